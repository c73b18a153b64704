/**
 * How `serve.ts` knows that every worker of `deno serve --parallel` is up:
 * each writes {@linkcode READY_LINE} to stderr once it has evaluated
 * `main.ts` (so it listens to SIGINT and SIGTERM), when {@linkcode READY_ENV}
 * is set.
 *
 * @module
 */

/** Set by serve.ts for its workers. */
export const READY_ENV = "WS4D_CHAT_LAUNCHED";
/** The line a worker writes to stderr once it is up. */
export const READY_LINE = "ws4d-chat: worker ready";

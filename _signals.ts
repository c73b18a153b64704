/**
 * The server option `signals`: the first of them calls back (the server
 * terminates), then the listeners are removed, so that a second signal ends
 * the process as usual.
 *
 * @module
 */
import { toError } from "./_errors.ts";

/** Listens to `signals` for one shutdown. */
export class SignalShutdown {
  readonly #signals: readonly string[];
  #listener: (() => void) | undefined;
  #pending: ReturnType<typeof setTimeout> | undefined;

  /**
   * Listens at once. With `strict` false (`signals: true`), a signal the
   * platform cannot listen to (SIGTERM on Windows) is skipped; with `strict`,
   * it is a `TypeError` and nothing listens.
   */
  constructor(
    signals: readonly string[],
    strict: boolean,
    onSignal: () => void,
  ) {
    this.#signals = signals;
    const listener = () => {
      // A task later: removed inside their own dispatch, the listeners left
      // `deno serve --parallel` running after its shutdown now and then
      // (Deno 2.9.6: 3 runs of 8; 0 of 12 deferred).
      this.#pending ??= setTimeout(() => this.stop(), 0);
      onSignal();
    };
    this.#listener = listener;
    const listening: string[] = [];
    for (const signal of signals) {
      try {
        Deno.addSignalListener(signal as Deno.Signal, listener);
        listening.push(signal);
      } catch (cause) {
        if (!strict) continue;
        for (const done of listening) {
          Deno.removeSignalListener(done as Deno.Signal, listener);
        }
        this.#listener = undefined;
        throw new TypeError(
          `Cannot create WebSocketServer: options.signals cannot listen to ${signal} here (${
            toError(cause).message
          })`,
          { cause },
        );
      }
    }
  }

  /** Stops listening, at once unless a signal already asked for later. */
  stopSoon(): void {
    if (this.#pending === undefined) this.stop();
  }

  /** Stops listening now. */
  stop(): void {
    clearTimeout(this.#pending);
    this.#pending = undefined;
    const listener = this.#listener;
    if (listener === undefined) return;
    this.#listener = undefined;
    for (const signal of this.#signals) {
      try {
        Deno.removeSignalListener(signal as Deno.Signal, listener);
      } catch {
        // It was never added (skipped under `signals: true`).
      }
    }
  }
}

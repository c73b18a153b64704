/**
 * How a server that listens by itself listens, and how it stops: with a
 * `port`, `Deno.serve` (TLS with `cert` and `key`); with `signals`, the
 * signal listeners that start its `terminate()`.
 *
 * @module
 */
import { DEFAULTS, type ResolvedServerOptions } from "./_options.ts";
import { SignalShutdown } from "./_signals.ts";

/** A server's own listener and signals; neither where not asked. */
export class Listener {
  readonly #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  /** The listeners of `options.signals`, if any. */
  readonly signals: SignalShutdown | undefined;
  #stopped: Promise<void> | undefined;

  /**
   * Listens for `options.signals` (then calls `onSignal`) and on
   * `options.port`. Signals first: a signal that cannot be listened to
   * throws before anything listens; a port that cannot be taken leaves no
   * listener behind.
   */
  constructor(
    options: ResolvedServerOptions,
    handler: Deno.ServeHandler<Deno.NetAddr>,
    onSignal: () => void,
  ) {
    if (options.signals.length > 0) {
      this.signals = new SignalShutdown(
        options.signals,
        options.signals !== DEFAULTS.signals,
        options.closeTimeout * 1000,
        onSignal,
      );
    }
    try {
      this.#server = listen(options, handler);
    } catch (error) {
      this.signals?.stop();
      throw error;
    }
  }

  /** The listening address when it listens by itself, else `undefined`. */
  get addr(): Deno.NetAddr | undefined {
    return this.#server?.addr;
  }

  /** Stops listening (the same promise at every call). */
  stop(): Promise<void> {
    return this.#stopped ??= this.#server === undefined
      ? Promise.resolve()
      : this.#server.shutdown().catch(() => {});
  }
}

/** `Deno.serve` on `options.port`, or nothing without one. */
function listen(
  options: ResolvedServerOptions,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): Deno.HttpServer<Deno.NetAddr> | undefined {
  const { port, hostname, cert, key } = options;
  if (port === undefined) return undefined;
  const tcp: Deno.ServeTcpOptions = { port, onListen() {} };
  if (hostname !== undefined) tcp.hostname = hostname;
  return Deno.serve(
    cert !== undefined && key !== undefined ? { ...tcp, cert, key } : tcp,
    handler,
  );
}

/**
 * The server option `signals`: the first of them calls back (the server
 * terminates), then the listeners are removed, so that a second signal ends
 * the process as usual. Once the shutdown a signal started has ended, the
 * process ends by itself, or at the latest `closeTimeout` after the signal:
 * Deno 2.9.6 keeps it alive for the ping timer of a socket that broke
 * (`idleTimeout` / 2, 15 s by default), which no public API clears.
 *
 * @module
 */
import { toError } from "./_errors.ts";

/** Listens to `signals` for one shutdown. */
export class SignalShutdown {
  readonly #signals: readonly string[];
  readonly #exitAfter: number;
  #listener: (() => void) | undefined;
  #pending: ReturnType<typeof setTimeout> | undefined;
  /** When the first signal came (`performance.now()`). */
  #signalled: number | undefined;

  /**
   * Listens at once. With `strict` false (`signals: true`), a signal the
   * platform cannot listen to (SIGTERM on Windows) is skipped; with `strict`,
   * it is a `TypeError` and nothing listens. `exitAfter`: the milliseconds
   * after a signal by which the process ends (see {@linkcode ended}).
   */
  constructor(
    signals: readonly string[],
    strict: boolean,
    exitAfter: number,
    onSignal: () => void,
  ) {
    this.#signals = signals;
    this.#exitAfter = exitAfter;
    const listener = () => {
      this.#signalled ??= performance.now();
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

  /**
   * The shutdown has ended (the server's `onTerminate` has settled): stops
   * listening, and where a signal started it, ends the process `exitAfter`
   * after the signal (at once if that has passed) unless it has ended by
   * itself before: the timer does not keep it alive.
   */
  ended(): void {
    this.stop();
    const signalled = this.#signalled;
    if (signalled === undefined) return;
    const left = signalled + this.#exitAfter - performance.now();
    const timer = setTimeout(() => Deno.exit(0), Math.max(0, left));
    Deno.unrefTimer(timer);
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

/**
 * A server's shutdown (`terminate(timeout)`, or a signal): it stops
 * accepting, closes every session with 1001, waits for their close
 * handshakes up to the timeout, gives up what is left, stops listening,
 * lets the broadcasts and the backplane settle, and ends with the server's
 * `onTerminate`, once. Started by a signal, it then ends the process by the
 * deadline (`_signals.ts`).
 *
 * @module
 */
import type { SignalShutdown } from "./_signals.ts";
import type { Backplane } from "./backplane.ts";

/** The relays of a server in a cluster, as the shutdown sees them. */
export interface RelayCloser {
  /** The clients relayed to other instances are let go (they resume there). */
  close(): void;
}

/** A session as the shutdown sees it. */
export interface Closable {
  close(code: number, reason: string, giveUpAfter: number): void;
  abandon(): void;
}

/** What a shutdown ends, and how. */
export interface ShutdownParts {
  /** The live sessions (read as they leave). */
  readonly sessions: ReadonlySet<Closable>;
  readonly signals: SignalShutdown | undefined;
  readonly backplane: Backplane | undefined;
  /** The relays, where the server is in a cluster. */
  readonly cluster?: RelayCloser | undefined;
  /** Resolves once every broadcast made so far is published. */
  settled(): Promise<void>;
  /** Stops the listener (the same promise at every call). */
  stopListening(): Promise<void>;
  /** The server's `onTerminate`: resolves once it has settled. */
  terminated(): Promise<void>;
}

/** One server's shutdown. */
export class Shutdown {
  /** Resolves when the last session leaves during the shutdown. */
  #drained: (() => void) | undefined;

  /** A session left the registry; `remaining` are left. */
  left(remaining: number): void {
    if (remaining === 0) this.#drained?.();
  }

  /** Shuts down, waiting up to `ms` for the close handshakes. */
  async run(ms: number, parts: ShutdownParts): Promise<void> {
    parts.signals?.stopSoon();
    parts.cluster?.close();
    const sessions = parts.sessions;
    for (const session of sessions) {
      session.close(1001, "server terminated", Infinity);
    }
    if (sessions.size > 0) {
      const drained = new Promise<void>((resolve) => this.#drained = resolve);
      if (ms > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, ms);
        });
        await Promise.race([drained, late]);
        clearTimeout(timer);
      }
      // What is left never answered: it terminates with 1006 (a cut, not a
      // close), and only the server's shutdown can cut its socket.
      for (const session of sessions) session.abandon();
      await parts.stopListening();
      await drained;
    }
    await parts.stopListening();
    await parts.settled();
    // Last: the sessions relayed to other instances close through it.
    await parts.backplane?.close().catch(() => {});
    parts.signals?.stop();
    await parts.terminated();
    parts.signals?.ended();
  }
}

// This module is browser compatible.
/**
 * What a session is given: its settings (what differs between a server's
 * connection and a client) and its owner (who hears of its life).
 *
 * @module
 */
import type { RateLimit } from "./_limits.ts";
import type { Session } from "./_session.ts";
import type { WSServerCounts } from "./_stats.ts";
import type { DataType, WSError } from "./_types.ts";

/**
 * What a session tells the one that owns it: the server's registry, or a
 * client (which has only `fallback`).
 */
export interface SessionOwner<T> {
  /** Errors with no `onError` to receive them, or thrown by `onError`. */
  fallback(errors: readonly WSError[]): void;
  /** The link opened, before `onOpen` runs. */
  connected?(session: Session<T>): void;
  /** The status has left `"Connected"`. */
  left?(session: Session<T>): void;
  /** A client declined resuming: its token names the session no more. */
  unresumable?(session: Session<T>): void;
  /** `onTerminate` has run and settled: nothing more will be called. */
  done?(session: Session<T>): void;
}

/** What differs between a server-side connection and a client. */
export interface SessionSettings<T> {
  /** A server may close with 1007/1009/1011; a client only with 1000. */
  readonly side: "server" | "client";
  readonly dataType: DataType;
  readonly maxMessageSize: number;
  /** Past this many bytes waiting to go out, the peer is a slow consumer. */
  readonly maxBufferedAmount: number;
  /** The server's counters (server only). */
  readonly stats?: WSServerCounts;
  /** The token bucket's rates on what the peer sends (server only). */
  readonly rateLimit?: RateLimit | undefined;
  /** The URL a client connects to, named in its connection errors. */
  readonly url?: string;
  /**
   * Milliseconds to wait for the peer's answer to a close we started before
   * giving the connection up (server only; the client waits for its socket).
   */
  readonly closeTimeout?: number;
  /** Who is told of the session's life. */
  readonly owner: SessionOwner<T>;
}

// This module is browser compatible.
/**
 * What the resume layer (`_resume.ts`) is, and asks of its session: its
 * phase, one value, and the {@linkcode ResumeHost} methods it answers
 * through.
 *
 * @module
 */
import type { Encoded, Frame } from "./_codec.ts";
import type { Ws4dError } from "./_errors.ts";
import type { Link } from "./_link.ts";

/**
 * Where a session's resuming stands, one value:
 *
 * - `unlinked`: no link carries the session (a server's between two
 *   sockets, a client's between two tries): what is sent is kept only;
 * - `resuming`: a server's, on a new link that has not opened yet;
 * - `unaccepted`: a server's after a query offer, until the client's
 *   answer to its hello: the client's frames are data as they are;
 * - `offered`: a client's that offered its token, until the server's hello;
 * - `querying`: a client's that made a fresh offer in the query, before open;
 * - `probing`: a client's after a query offer, open, until the server's
 *   first frame: it sends as it is, and keeps what it sends;
 * - `refusing`: `probing`, past the default limits: it keeps nothing more
 *   and will decline a hello;
 * - `declining`: a client's that declined, until the server's `declined`;
 * - `plain`: a client's link that carries no resuming (the server does not
 *   resume): plain frames both ways, until the next try;
 * - `linked`: the link carries the session: frames kept, counted, acked.
 */
export type ResumePhase =
  | "unlinked"
  | "resuming"
  | "unaccepted"
  | "offered"
  | "querying"
  | "probing"
  | "refusing"
  | "declining"
  | "plain"
  | "linked";

/** What the resume layer asks of its session. */
export interface ResumeHost {
  /** What carries the frames now, or `null`. */
  readonly link: Link | null;
  /** Whether messages are still delivered. */
  readonly delivering: boolean;
  /** Whether the session ended. */
  readonly closed: boolean;
  /** Whether a message of `size` passes the rate limit (else it failed). */
  admit(size: number): boolean;
  /** A data message, to `onMessage`. */
  deliver(frame: Frame): void;
  /** A data message without resuming, behind the rate limit. */
  receivePlain(frame: Frame): void;
  /** Sends `wire` (the frame of `data`) and counts it. */
  transmit(wire: Encoded, data: Encoded): void;
  /** A fatal error. */
  fail(error: Ws4dError, dropWaiting: boolean): void;
  /** The peer acknowledges too little: a slow consumer. */
  slowConsumer(message: string): void;
  /** A client's session is open (after the server's hello). */
  opened(resumed: boolean): void;
  /** A new link carries the session. */
  relinked(): void;
  /** Resuming ends for this session: plain from here. */
  unresumable(): void;
  /** A broken session's wait is over: it ends with 1006. */
  abandon(): void;
}

// This module is browser compatible.
/**
 * Resume's state on one side of a session: the frames kept for a resend (a
 * ring), and the counts sent, acknowledged and received. Plain data with
 * no socket, no timer and no session in it: whoever holds it (a session, or
 * another object it is handed to) can carry the session on.
 *
 * @module
 */
import { DEFAULTS } from "./_options.ts";
import type { ResumeLimits } from "./_resume_options.ts";

/** The initial capacity of the ring of kept messages (a power of two). */
const INITIAL_CAPACITY = 16;

/**
 * One side's state of a resumable session: the messages it sent that the
 * peer has not acknowledged (in order, with their sizes), the count it
 * received, and when it owes the peer an acknowledgement. The server's
 * connection and the client each hold one; `T` is whatever they send (the
 * wrapped frame), kept as given for a resend.
 *
 * The counts are absolute: `sent` and `received` grow for the session's
 * life; the kept messages are those numbered `acknowledged` to `sent - 1`.
 *
 * @example Two sides, a break, and a resume: nothing lost, nothing twice
 * ```ts
 * import { ResumeState } from "./_resume_state.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const server = new ResumeState<string>();
 * const client = new ResumeState<string>();
 * for (const text of ["a", "b", "c"]) server.keep(text, text.length);
 * client.countReceived(1); // "a" arrived; "b" and "c" were lost in the break
 * // The client offers its count (1); the server resends from there.
 * assertEquals(server.resumeFrom(client.received), ["b", "c"]);
 * assertEquals(server.acknowledged, 1);
 * ```
 */
export class ResumeState<T> {
  #limits: ResumeLimits;
  #ackEveryMessages = 0;
  #ackEveryBytes = 0;

  /** The ring of kept frames and their sizes; capacity a power of two. */
  #frames: (T | undefined)[] = [];
  #sizes: Float64Array = new Float64Array(0);
  #head = 0;
  #sent = 0;
  #acknowledged = 0;
  #keptBytes = 0;

  #received = 0;
  #unackedMessages = 0;
  #unackedBytes = 0;

  /**
   * Starts one side of a session: nothing sent, nothing received.
   *
   * @param limits The session's limits (the client adopts the server's from
   * its hello with {@linkcode ResumeState.limits}).
   */
  constructor(limits: ResumeLimits = DEFAULTS.resume) {
    this.#limits = limits;
    this.limits = limits;
  }

  /** The session's limits. */
  get limits(): ResumeLimits {
    return this.#limits;
  }

  /**
   * Adopts new limits (the client, from the server's hello); the ack
   * thresholds follow: a quarter of each limit, at least 1.
   */
  set limits(limits: ResumeLimits) {
    this.#limits = limits;
    this.#ackEveryMessages = Math.max(1, Math.floor(limits.maxMessages / 4));
    this.#ackEveryBytes = Math.max(1, Math.floor(limits.maxBytes / 4));
  }

  /** The count of data messages sent (and kept while unacknowledged). */
  get sent(): number {
    return this.#sent;
  }

  /** The count of data messages the peer acknowledged. */
  get acknowledged(): number {
    return this.#acknowledged;
  }

  /** The count of messages kept for a resend. */
  get keptMessages(): number {
    return this.#sent - this.#acknowledged;
  }

  /** The sum of the sizes of the messages kept for a resend. */
  get keptBytes(): number {
    return this.#keptBytes;
  }

  /**
   * Whether what is kept passed the limits: more than `maxMessages`
   * messages, or more than `maxBytes` bytes in more than one message (one
   * message is always kept, whatever its size). While connected, a peer that
   * leaves this so is a slow consumer; during a break, the session ends.
   */
  get overLimits(): boolean {
    const kept = this.#sent - this.#acknowledged;
    return kept > this.#limits.maxMessages ||
      (kept > 1 && this.#keptBytes > this.#limits.maxBytes);
  }

  /**
   * Records a data message sent, or queued during a break: it is kept,
   * numbered {@linkcode ResumeState.sent}, until the peer acknowledges it.
   *
   * @param frame What to send again on a resume.
   * @param size Its size ({@linkcode sizeOf} of the payload).
   */
  keep(frame: T, size: number): void {
    const count = this.#sent - this.#acknowledged;
    if (count === this.#frames.length) this.#grow();
    const slot = (this.#head + count) & (this.#frames.length - 1);
    this.#frames[slot] = frame;
    this.#sizes[slot] = size;
    this.#keptBytes += size;
    this.#sent++;
  }

  #grow(): void {
    const count = this.#frames.length;
    const capacity = Math.max(INITIAL_CAPACITY, count * 2);
    const frames = new Array<T | undefined>(capacity);
    const sizes = new Float64Array(capacity);
    for (let i = 0; i < count; i++) {
      const from = (this.#head + i) & (count - 1);
      frames[i] = this.#frames[from];
      sizes[i] = this.#sizes[from] as number;
    }
    this.#frames = frames;
    this.#sizes = sizes;
    this.#head = 0;
  }

  /**
   * The peer acknowledged `received` messages: those before it are dropped.
   *
   * @returns `false` when `received` is below a previous acknowledgement or
   * above {@linkcode ResumeState.sent}: a protocol error. A repeated
   * acknowledgement is no error.
   */
  acknowledge(received: number): boolean {
    if (!this.canResumeFrom(received)) return false;
    const mask = this.#frames.length - 1;
    for (let n = this.#acknowledged; n < received; n++) {
      this.#keptBytes -= this.#sizes[this.#head] as number;
      this.#frames[this.#head] = undefined;
      this.#head = (this.#head + 1) & mask;
    }
    this.#acknowledged = received;
    if (received === this.#sent) {
      this.#keptBytes = 0;
      // Idle with nothing kept: give the ring's memory back.
      if (this.#frames.length > INITIAL_CAPACITY) {
        this.#frames = [];
        this.#sizes = new Float64Array(0);
        this.#head = 0;
      }
    }
    return true;
  }

  /**
   * Whether the peer's count of received messages is one this side can
   * resume from: at least what it acknowledged, at most what was sent.
   * Out of it, the server starts a fresh session, and the client fails the
   * connection.
   */
  canResumeFrom(peerReceived: number): boolean {
    return Number.isInteger(peerReceived) &&
      peerReceived >= this.#acknowledged && peerReceived <= this.#sent;
  }

  /**
   * Resumes after a break, given the count the peer received (the client's
   * offer, the server's hello): acknowledges up to it, and returns exactly
   * the messages the peer did not receive, in order, each once. They stay
   * kept until acknowledged. The count this side received reaches the peer
   * in the same exchange, so no acknowledgement is owed any more.
   *
   * The caller must have stopped reading the old socket first, or a message
   * read from it later would be counted after the peer's resend began.
   *
   * @returns The frames to send again, or `null` when
   * {@linkcode ResumeState.canResumeFrom} is false.
   */
  resumeFrom(peerReceived: number): T[] | null {
    if (!this.acknowledge(peerReceived)) return null;
    this.#unackedMessages = 0;
    this.#unackedBytes = 0;
    return this.#keptFrames();
  }

  #keptFrames(): T[] {
    const count = this.#sent - this.#acknowledged;
    const mask = this.#frames.length - 1;
    const frames = new Array<T>(count);
    for (let i = 0; i < count; i++) {
      frames[i] = this.#frames[(this.#head + i) & mask] as T;
    }
    return frames;
  }

  /**
   * Ends this state when the server did not resume (a fresh session): the
   * kept messages, in order, for the caller to send again first in the new
   * session (at least once, SPEC.md). This state keeps nothing after it.
   */
  takeUnacknowledged(): T[] {
    const frames = this.#keptFrames();
    this.#frames = [];
    this.#sizes = new Float64Array(0);
    this.#head = 0;
    this.#acknowledged = this.#sent;
    this.#keptBytes = 0;
    return frames;
  }

  /** The count of data messages received. */
  get received(): number {
    return this.#received;
  }

  /** Whether messages were received since the last acknowledgement. */
  get ackPending(): boolean {
    return this.#unackedMessages > 0;
  }

  /**
   * Counts a data message received. When it returns `true`, an ack is due:
   * send `encodeControl({ type: "ack", received: state.takeAck() })`.
   *
   * @param size Its size ({@linkcode sizeOf}, after {@linkcode unwrapFrame}).
   * @returns Whether what was received since the last ack reached a quarter
   * of `maxMessages` or of `maxBytes`.
   */
  countReceived(size: number): boolean {
    this.#received++;
    this.#unackedBytes += size;
    return ++this.#unackedMessages >= this.#ackEveryMessages ||
      this.#unackedBytes >= this.#ackEveryBytes;
  }

  /** The count to acknowledge now; the ack is no longer owed. */
  takeAck(): number {
    this.#unackedMessages = 0;
    this.#unackedBytes = 0;
    return this.#received;
  }

  /**
   * When a session that broke at `brokeAt` (ms, the caller's clock) ends if
   * its client has not come back.
   */
  windowDeadline(brokeAt: number): number {
    return brokeAt + this.#limits.window * 1000;
  }
}

/**
 * A server's session: a {@linkcode Session} behind the server's
 * `rateLimit`, which a client that comes back may resume on a new link.
 *
 * @module
 */
import { type Frame, frameSize } from "./_codec.ts";
import { ErrorCode, Ws4dError } from "./_errors.ts";
import type { Link } from "./_link.ts";
import { type RateLimit, TokenBucket } from "./_limits.ts";
import type { Resumption } from "./_resume.ts";
import { Session } from "./_session.ts";
import type { SessionSettings } from "./_session_settings.ts";

/** A server's session (`T`: its connection). */
export class ServerSession<T> extends Session<T> {
  /** The bucket of `rateLimit`, where set. */
  readonly #bucket: TokenBucket | undefined;

  constructor(
    handler: object,
    settings: SessionSettings<T>,
    resume: Resumption | null,
  ) {
    super(handler, settings, resume);
    const limit = settings.rateLimit;
    if (limit !== undefined) {
      this.#bucket = new TokenBucket(limit, performance.now());
    }
  }

  /** Whether a message of `size` passes `rateLimit`; else the session fails. */
  override admit(size: number): boolean {
    const bucket = this.#bucket;
    if (bucket === undefined || bucket.take(size, performance.now())) {
      return true;
    }
    this.#rateLimited(bucket.limit);
    return false;
  }

  /** A data message without resuming: behind `rateLimit` where set. */
  override receivePlain(frame: Frame): void {
    if (this.#bucket === undefined || this.admit(frameSize(frame))) {
      this.deliver(frame);
    }
  }

  #rateLimited(limit: RateLimit): void {
    const stats = this.settings.stats;
    if (stats !== undefined) stats.messagesReceived++;
    this.fail(
      new Ws4dError(
        ErrorCode.RateLimited,
        `Cannot receive message: the peer sent more than ${
          limit.messages === Infinity ? "" : `${limit.messages} messages, `
        }${
          limit.bytes === Infinity ? "" : `${limit.bytes} bytes, `
        }per ${limit.per} s`,
      ),
      false,
    );
  }

  /**
   * Whether a client that received `peerReceived` messages may resume this
   * session: it has resuming, is open, and the count is between what it
   * had acknowledged and what was sent.
   */
  canResume(peerReceived: number): boolean {
    const resume = this.resumption;
    return resume !== null && this.phase === "open" &&
      resume.state.canResumeFrom(peerReceived);
  }

  /**
   * Resumes on a new link: the old one, if the server had not seen it
   * break, is let go (no more read from it); at the new one's open, the
   * hello, then what the client did not receive.
   */
  resumeWith(link: Link, peerReceived: number): void {
    const old = this.link;
    if (old !== null) {
      old.release();
      old.abort(1000, "resumed");
    }
    this.resumption?.resumeWith(peerReceived);
    this.attach(link);
  }
}

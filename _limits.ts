// This module is browser compatible.
/**
 * The server's abuse limits: a token bucket per connection on what the peer
 * sends (`rateLimit`), and a count of open connections per address
 * (`maxConnectionsPerAddress`). Pure: the clock is read by the caller's
 * `performance.now()`, nothing is scheduled.
 *
 * @module
 */

/** The resolved `rateLimit` option: per second rates and bucket sizes. */
export interface RateLimit {
  /** Messages per `per` seconds; `Infinity` for no limit on messages. */
  readonly messages: number;
  /** Bytes per `per` seconds; `Infinity` for no limit on bytes. */
  readonly bytes: number;
  /** The window of the rates, in seconds. */
  readonly per: number;
}

/**
 * One connection's bucket. It holds at most one window's worth (`messages`
 * and `bytes` per `per` seconds) and refills continuously, so a peer may
 * send a burst of a whole window at once after a quiet spell, and no more
 * than the rate over any longer time.
 */
export class TokenBucket {
  readonly #limit: RateLimit;
  /** Tokens refilled per millisecond. */
  readonly #messagesPerMs: number;
  readonly #bytesPerMs: number;
  #messages: number;
  #bytes: number;
  #last: number;

  constructor(limit: RateLimit, now: number) {
    this.#limit = limit;
    this.#messagesPerMs = limit.messages / (limit.per * 1000);
    this.#bytesPerMs = limit.bytes / (limit.per * 1000);
    this.#messages = limit.messages;
    this.#bytes = limit.bytes;
    this.#last = now;
  }

  /** The rates this bucket pays for. */
  get limit(): RateLimit {
    return this.#limit;
  }

  /**
   * Takes one message of `size` bytes at `now` (ms).
   *
   * @returns False when the bucket cannot pay for it: the peer is over the
   * rate.
   */
  take(size: number, now: number): boolean {
    const elapsed = now - this.#last;
    this.#last = now;
    const limit = this.#limit;
    const messages = Math.min(
      limit.messages,
      this.#messages + elapsed * this.#messagesPerMs,
    );
    const bytes = Math.min(
      limit.bytes,
      this.#bytes + elapsed * this.#bytesPerMs,
    );
    if (messages < 1 || bytes < size) {
      this.#messages = messages;
      this.#bytes = bytes;
      return false;
    }
    this.#messages = messages - 1;
    this.#bytes = bytes - size;
    return true;
  }
}

/** Open connections counted by key (an address), with a ceiling. */
export class KeyCounter {
  readonly #counts = new Map<string, number>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** Counts one more for `key`, unless it is at the ceiling. */
  acquire(key: string): boolean {
    const count = this.#counts.get(key) ?? 0;
    if (count >= this.#max) return false;
    this.#counts.set(key, count + 1);
    return true;
  }

  /** Counts one less for `key`. */
  release(key: string): void {
    const count = this.#counts.get(key) ?? 0;
    if (count <= 1) this.#counts.delete(key);
    else this.#counts.set(key, count - 1);
  }
}

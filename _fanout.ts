/**
 * `broadcast`'s fan-out: a message encoded once, handed to every open
 * session of this instance, and through the backplane to the other
 * instances (with `publish`'s, to a topic), in the order this instance
 * broadcast or published (a `Blob` is read before
 * what follows it is published).
 *
 * @module
 */
import type { Encoded } from "./_codec.ts";
import type { Backplane, BackplaneData } from "./backplane.ts";

/** A session as a fan-out sees it: its connection, and its send. */
export interface Recipient<T> {
  /** The connection it drives (what `except` names). */
  readonly target: T;
  /** Sends an encoded message; false when it is not open. */
  sendEncoded(data: Encoded): boolean;
}

/**
 * The fan-out's one loop (`broadcast`, a topic's subscribers, what the
 * backplane delivers): `data`, encoded once, to every session but the one
 * whose connection is `except`.
 *
 * @returns How many sessions took it.
 */
export function handOut<T>(
  sessions: Iterable<Recipient<T>>,
  data: Encoded,
  except: T | undefined,
): number {
  let count = 0;
  for (const session of sessions) {
    if (session.target !== except && session.sendEncoded(data)) count++;
  }
  return count;
}

/**
 * Text stays text; bytes become a `Uint8Array` over the same memory, which
 * the backplane copies before `publish` returns.
 */
function toBackplaneData(data: Exclude<Encoded, Blob>): BackplaneData {
  if (typeof data === "string" || data instanceof Uint8Array) return data;
  return ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
}

/** Bytes copied, text as it is. */
function copyOf(data: BackplaneData): BackplaneData {
  return typeof data === "string" ? data : data.slice();
}

/** A broadcast, or a publish to `topic`. */
function send(
  backplane: Backplane,
  data: BackplaneData,
  topic: string | undefined,
): void {
  if (topic === undefined) backplane.publish(data);
  else backplane.publishTopic?.(topic, data);
}

/** One server's fan-out, local and through its backplane. */
export class Fanout<T> {
  readonly #backplane: Backplane | undefined;
  /** Broadcasts waiting for a `Blob` to be read, to keep their order. */
  #publishing: Promise<void> | undefined;

  constructor(backplane: Backplane | undefined) {
    this.#backplane = backplane;
  }

  /**
   * Hands `data` to every session but the one whose target is `except`, and
   * to the backplane.
   *
   * @returns How many local sessions took it.
   */
  broadcast(
    data: Encoded,
    sessions: Iterable<Recipient<T>>,
    except: T | undefined,
  ): number {
    const count = handOut(sessions, data, except);
    if (this.#backplane !== undefined) this.#publish(this.#backplane, data);
    return count;
  }

  /**
   * Hands `data` to the other instances as a publish to `topic` (the local
   * subscribers are `_topics.ts`'s), in order with the broadcasts. A
   * backplane without `publishTopic` carries no topic: topics stay local.
   */
  publishTopic(topic: string, data: Encoded): void {
    const backplane = this.#backplane;
    if (backplane?.publishTopic !== undefined) {
      this.#publish(backplane, data, topic);
    }
  }

  /** Resolves once every broadcast made so far is published. */
  async settled(): Promise<void> {
    await this.#publishing;
  }

  /** Publishes in order, as text or bytes (to `topic`, where given). */
  #publish(backplane: Backplane, data: Encoded, topic?: string): void {
    if (this.#publishing === undefined && !(data instanceof Blob)) {
      send(backplane, toBackplaneData(data), topic);
      return;
    }
    // A Blob is read first; what follows it waits its turn, as a copy of
    // its bytes: the caller may reuse its buffer once broadcast returns.
    const ready: Promise<BackplaneData> = data instanceof Blob
      ? data.bytes()
      : Promise.resolve(copyOf(toBackplaneData(data)));
    const turn: Promise<void> = (this.#publishing ?? Promise.resolve())
      .then(() => ready)
      .then((bytes) => send(backplane, bytes, topic))
      .catch(() => {})
      .finally(() => {
        if (this.#publishing === turn) this.#publishing = undefined;
      });
    this.#publishing = turn;
  }
}

/**
 * The topics of one server instance (SPEC.md, "Topics"): which sessions
 * subscribe to which topic, both ways, and the local half of a publish.
 * The backplane hears when a topic gets its first local subscriber and
 * loses its last, so that a backplane that can route (Redis) carries a
 * topic's traffic only to the instances that have subscribers.
 *
 * @module
 */
import type { Encoded } from "./_codec.ts";
import { describe } from "./_checks.ts";
import { handOut, type Recipient } from "./_fanout.ts";

/** The longest topic, in UTF-16 code units (`topic.length`). */
export const MAX_TOPIC_LENGTH = 256;

/** A session as a topic sees it. */
export interface Subscriber<T> extends Recipient<T> {
  /** `"Connecting"`, `"Connected"`, `"Closing"` or `"Closed"`. */
  readonly status: string;
}

/** What the registry tells its server: a topic's first and last subscriber here. */
export interface TopicHooks {
  /** `topic` got its first subscriber on this instance. */
  first(topic: string): void;
  /** `topic` lost its last subscriber on this instance. */
  last(topic: string): void;
}

/**
 * Whether `topic` is a valid topic: a non-empty, well-formed string (no
 * lone surrogate) of at most {@linkcode MAX_TOPIC_LENGTH} UTF-16 units.
 */
export function isTopic(topic: unknown): topic is string {
  return typeof topic === "string" && topic.length > 0 &&
    topic.length <= MAX_TOPIC_LENGTH && topic.isWellFormed();
}

/**
 * Checks a topic argument.
 *
 * @throws {TypeError} When `topic` is not a string, is empty, or holds a
 * lone surrogate (it could not name a Redis channel of its own).
 * @throws {RangeError} When it is over {@linkcode MAX_TOPIC_LENGTH} UTF-16
 * units.
 */
export function checkTopic(topic: unknown, action: string): string {
  if (isTopic(topic)) return topic;
  if (typeof topic !== "string" || topic === "") {
    throw new TypeError(
      `${action}: topic must be a non-empty string, current value is ${
        describe(topic)
      }`,
    );
  }
  if (topic.length > MAX_TOPIC_LENGTH) {
    throw new RangeError(
      `${action}: topic must be at most ${MAX_TOPIC_LENGTH} UTF-16 code units, current length is ${topic.length}`,
    );
  }
  throw new TypeError(
    `${action}: topic must be a well-formed string (no lone surrogate), current value is ${
      describe(topic)
    }`,
  );
}

/**
 * The topics of one instance: each topic's subscribers (in the order they
 * subscribed) and each subscriber's topics.
 *
 * @example
 * ```ts
 * import { Topics } from "./_topics.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const sent: string[] = [];
 * const session = {
 *   target: "a",
 *   status: "Connected",
 *   sendEncoded: (data: unknown) => sent.push(String(data)) > 0,
 * };
 * const topics = new Topics<string, typeof session>(10, {
 *   first() {},
 *   last() {},
 * });
 * topics.subscribe(session, "news", "Cannot subscribe");
 * assertEquals(topics.deliver("news", "hello", undefined), 1);
 * assertEquals(sent, ["hello"]);
 * ```
 */
export class Topics<T, S extends Subscriber<T>> {
  readonly #subscribers = new Map<string, Set<S>>();
  readonly #topicsOf = new Map<S, Set<string>>();
  readonly #max: number;
  readonly #hooks: TopicHooks;

  /**
   * @param max The most topics per subscriber (server option
   * `maxSubscriptions`).
   */
  constructor(max: number, hooks: TopicHooks) {
    this.#max = max;
    this.#hooks = hooks;
  }

  /**
   * Subscribes `session` to `topic`.
   *
   * @returns False, subscribing nothing, when the session is closing or
   * closed; else true (subscribed already included).
   * @throws {TypeError} {@linkcode checkTopic}'s.
   * @throws {RangeError} For a topic too long, or one topic past `max`.
   */
  subscribe(session: S, topic: unknown, action: string): boolean {
    const checked = checkTopic(topic, action);
    const status = session.status;
    if (status !== "Connected" && status !== "Connecting") return false;
    let mine = this.#topicsOf.get(session);
    if (mine?.has(checked)) return true;
    if ((mine?.size ?? 0) >= this.#max) {
      throw new RangeError(
        `${action}: the connection has ${this.#max} subscriptions already, the most that options.maxSubscriptions allows`,
      );
    }
    if (mine === undefined) {
      mine = new Set();
      this.#topicsOf.set(session, mine);
    }
    mine.add(checked);
    const subscribers = this.#subscribers.get(checked);
    if (subscribers !== undefined) {
      subscribers.add(session);
      return true;
    }
    this.#subscribers.set(checked, new Set([session]));
    this.#hooks.first(checked);
    return true;
  }

  /**
   * Unsubscribes `session` from `topic`.
   *
   * @returns Whether it was subscribed.
   * @throws {TypeError} {@linkcode checkTopic}'s.
   * @throws {RangeError} For a topic too long.
   */
  unsubscribe(session: S, topic: unknown, action: string): boolean {
    const checked = checkTopic(topic, action);
    const mine = this.#topicsOf.get(session);
    if (mine === undefined || !mine.delete(checked)) return false;
    if (mine.size === 0) this.#topicsOf.delete(session);
    this.#drop(session, checked);
    return true;
  }

  /** Whether `session` subscribes to `topic` (checked as `subscribe` does). */
  has(session: S, topic: unknown, action: string): boolean {
    const checked = checkTopic(topic, action);
    return this.#topicsOf.get(session)?.has(checked) === true;
  }

  /** A fresh array of the topics of `session`, in the order subscribed. */
  of(session: S): string[] {
    const mine = this.#topicsOf.get(session);
    return mine === undefined ? [] : Array.from(mine);
  }

  /** `session` leaves every topic (it closes). */
  leave(session: S): void {
    const mine = this.#topicsOf.get(session);
    if (mine === undefined) return;
    this.#topicsOf.delete(session);
    for (const topic of mine) this.#drop(session, topic);
  }

  /**
   * Hands `data` to every subscriber of `topic` here but the one whose
   * target is `except`: the same loop as a broadcast's, over the topic's
   * subscribers.
   *
   * @returns How many took it.
   */
  deliver(topic: string, data: Encoded, except: T | undefined): number {
    const subscribers = this.#subscribers.get(topic);
    return subscribers === undefined ? 0 : handOut(subscribers, data, except);
  }

  /** How many subscribers `topic` has here. */
  count(topic: string): number {
    return this.#subscribers.get(topic)?.size ?? 0;
  }

  /** Each topic with subscribers here, and how many. */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [topic, subscribers] of this.#subscribers) {
      counts.set(topic, subscribers.size);
    }
    return counts;
  }

  #drop(session: S, topic: string): void {
    const subscribers = this.#subscribers.get(topic);
    if (subscribers === undefined || !subscribers.delete(session)) return;
    if (subscribers.size > 0) return;
    this.#subscribers.delete(topic);
    this.#hooks.last(topic);
  }
}

// This module is browser compatible.
/**
 * One callback queue per target (SPEC.md, "Callbacks"): callbacks never
 * overlap and keep the order of events, whether they return at once or a
 * promise.
 *
 * @module
 */

/** A handler as the queue sees it: any object whose callbacks it may call. */
export type AnyHandler = object;

/** An internal step of the queue (not a user callback): runs unguarded. */
export type Step = () => void;

/**
 * Calls a target's callbacks one at a time, in order. A synchronous callback
 * costs one call and no allocation; a callback that returns a promise holds
 * the following ones back until it settles.
 */
export class CallbackQueue<T> {
  /** What the callbacks get as first argument, set once by its owner. */
  target!: T;
  /** Whose callbacks are called. */
  readonly handler: AnyHandler;
  /** A callback is running, or its promise has not settled. */
  #busy = false;
  /**
   * Waiting entries, flat: name (or step), event, name, event, ... Made on
   * first need: most connections never wait (idle memory per connection).
   */
  #waiting: unknown[] | null = null;

  constructor(handler: AnyHandler) {
    this.handler = handler;
  }

  /** Where a callback's failure goes: a subclass says what it means. */
  callbackFailed(_name: string, _thrown: unknown): void {}

  /** Calls `handler[name](target, event)` now, or after those before it. */
  push(name: string, event: unknown): void {
    if (this.#busy) {
      (this.#waiting ??= []).push(name, event);
      return;
    }
    this.#call(name, event);
    if (!this.#busy && this.#waiting !== null) this.#drain();
  }

  /** Runs an internal step once every callback before it has settled. */
  after(step: Step): void {
    if (this.#busy) (this.#waiting ??= []).push(step, undefined);
    else step();
  }

  /**
   * Drops every waiting `onMessage`/`onOpen` (a fatal error stops the
   * processing) and puts `name` first, ahead of a waiting `onTerminate`.
   */
  preempt(name: string, event: unknown): void {
    const kept: unknown[] = [name, event];
    const waiting = this.#waiting ?? [];
    for (let i = 0; i < waiting.length; i += 2) {
      const entry = waiting[i];
      if (typeof entry === "function" || entry === "onTerminate") {
        kept.push(entry, waiting[i + 1]);
      }
    }
    this.#waiting = kept;
    if (!this.#busy) this.#drain();
  }

  #call(name: string, event: unknown): void {
    const handler = this.handler;
    const callback: unknown = Reflect.get(handler, name);
    if (typeof callback !== "function") return;
    this.#busy = true;
    let result: unknown;
    try {
      result = callback.call(handler, this.target, event);
    } catch (thrown) {
      this.#busy = false;
      this.callbackFailed(name, thrown);
      return;
    }
    if (
      typeof result === "object" && result !== null && "then" in result &&
      typeof result.then === "function"
    ) {
      result.then(
        this.#settled ??= () => {
          this.#busy = false;
          this.#drain();
        },
        (thrown: unknown) => {
          this.#busy = false;
          // The failure may start onError, which may hold the queue in turn.
          this.callbackFailed(name, thrown);
          if (!this.#busy) this.#drain();
        },
      );
    } else {
      this.#busy = false;
    }
  }

  /** Releases the queue when a callback's promise fulfils (made on first need). */
  #settled: (() => void) | undefined;

  #drain(): void {
    // Read the array afresh each turn: a callback may preempt (replace) it.
    let waiting: unknown[] | null;
    while (
      !this.#busy && (waiting = this.#waiting) !== null && waiting.length > 0
    ) {
      const entry = waiting.shift();
      const event = waiting.shift();
      if (typeof entry === "function") entry();
      else if (typeof entry === "string") this.#call(entry, event);
    }
    if (this.#waiting?.length === 0) this.#waiting = null;
  }
}

/**
 * Waits bounded by the runtime's own timers, taken when this module loads:
 * a `FakeTime` installed later does not hold them, so that a wait on a real
 * event (a socket's, a callback's) fails after real milliseconds while the
 * test moves the clock by hand. {@linkcode within} bounds a promise,
 * {@linkcode Events} waits on callbacks that notify it.
 *
 * @module
 */
/** The runtime's timers, taken before any `FakeTime` replaces them. */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/**
 * Waits for `promise`, failing after `ms` of real time with `what` in the
 * message: a bound for a hung test, which a fake clock does not hold back.
 *
 * @example
 * ```ts
 * import { within } from "./_waits.ts";
 * console.assert(await within(Promise.resolve(1), "one") === 1);
 * ```
 */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  ms = 5000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = realSetTimeout(
      () => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    realClearTimeout(timer);
  }
}

/**
 * Waits on callbacks that record themselves (spies): each callback calls
 * {@linkcode Events.notify}, and {@linkcode Events.until} resolves once its
 * condition holds. Bounded by real time, as {@linkcode within}.
 *
 * @example
 * ```ts
 * import { spy } from "@std/testing/mock";
 * import { Events } from "./_waits.ts";
 * const events = new Events();
 * const onOpen = spy(() => events.notify());
 * queueMicrotask(onOpen);
 * await events.until(() => onOpen.calls.length === 1, "onOpen");
 * ```
 */
export class Events {
  readonly #wakers = new Set<() => void>();

  /**
   * Wakes every wait to check its condition again, a microtask later: a
   * spy records its call once the function it wraps has returned.
   */
  notify = (): void => {
    queueMicrotask(() => {
      for (const wake of [...this.#wakers]) wake();
    });
  };

  /** Resolves once `test()` holds, now or at a later `notify`. */
  async until(test: () => boolean, what: string, ms = 5000): Promise<void> {
    if (test()) return;
    const { promise, resolve } = Promise.withResolvers<void>();
    const wake = () => {
      if (test()) resolve();
    };
    this.#wakers.add(wake);
    try {
      await within(promise, what, ms);
    } finally {
      this.#wakers.delete(wake);
    }
  }
}

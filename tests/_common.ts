/**
 * Leaf helpers shared by tests/ and bench/: they import nothing of the
 * package, so a benchmark's load process can use them without loading it.
 *
 * @module
 */

/**
 * Waits for `promise`, failing after `ms` with `what` in the message; the
 * timer is cleared either way.
 *
 * @example
 * ```ts
 * import { deadline } from "./_common.ts";
 * const value = await deadline(Promise.resolve(1), "one", 100);
 * console.assert(value === 1);
 * ```
 */
export async function deadline<T>(
  promise: Promise<T>,
  what: string,
  ms = 5000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A free loopback port: listen on 0, read it, close. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Resolves after `ms`. For the benchmark's timed windows and pauses only:
 * a test waits on an event, with {@linkcode deadline}.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * What the test files of other branches still import from `_helpers.ts`
 * while they move off it: the labelled deadline (now `deadline` from
 * `@std/async`) and the racy free port (now port 0, read back). Delete this
 * file once nothing imports either.
 *
 * @module
 */

/**
 * Waits for `promise`, failing after `ms` with `what` in the message; the
 * timer is cleared either way. New code: `deadline` from `@std/async`.
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

/**
 * A loopback port found free by listening on 0 and closing: racy, as
 * another process may take it before it is used. New code binds port 0
 * and reads the port back.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

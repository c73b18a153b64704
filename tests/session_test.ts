/**
 * `_session.ts`'s callback queue, without a socket: callbacks of one target
 * run one at a time and in order, a synchronous callback costs no promise,
 * a failure goes to the owner, and a fatal error preempts what waits.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { deadline } from "@std/async";
import { CallbackQueue } from "../_queue.ts";

function recorder() {
  const seen: string[] = [];
  const failures: string[] = [];
  let release: () => void = () => {};
  const handler = {
    first() {
      seen.push("first:start");
      return new Promise<void>((resolve) => {
        release = () => {
          seen.push("first:end");
          resolve();
        };
      });
    },
    second(_target: unknown, event: string) {
      seen.push(`second:${event}`);
    },
    fails() {
      throw new Error("no");
    },
    rejects() {
      return Promise.reject(new Error("later"));
    },
  };
  const queue = new (class extends CallbackQueue<string> {
    override callbackFailed(name: string, thrown: unknown): void {
      failures.push(`${name}:${(thrown as Error).message}`);
    }
  })(handler);
  queue.target = "target";
  return { queue, seen, failures, release: () => release() };
}

Deno.test("CallbackQueue: an async callback holds the next ones back, in order", async () => {
  const { queue, seen, release } = recorder();
  queue.push("first", undefined);
  queue.push("second", "a");
  queue.push("second", "b");
  assertEquals(seen, ["first:start"]);
  const done = Promise.withResolvers<void>();
  queue.after(done.resolve);
  release();
  await deadline(done.promise, 5000);
  assertEquals(seen, ["first:start", "first:end", "second:a", "second:b"]);
});

Deno.test("CallbackQueue: a synchronous callback runs at once; a missing one is skipped", () => {
  const { queue, seen } = recorder();
  queue.push("second", "now");
  queue.push("absent", "ignored");
  let ran = false;
  queue.after(() => ran = true);
  assertEquals(seen, ["second:now"]);
  assertEquals(ran, true);
});

Deno.test("CallbackQueue: a throw and a rejection go to the owner, and the queue goes on", async () => {
  const { queue, seen, failures } = recorder();
  queue.push("fails", undefined);
  queue.push("rejects", undefined);
  queue.push("second", "after");
  const done = Promise.withResolvers<void>();
  queue.after(done.resolve);
  await deadline(done.promise, 5000);
  assertEquals(failures, ["fails:no", "rejects:later"]);
  assertEquals(seen, ["second:after"]);
});

Deno.test("CallbackQueue.preempt() drops waiting callbacks but steps, and goes first", async () => {
  const { queue, seen, release } = recorder();
  queue.push("first", undefined);
  queue.push("second", "dropped");
  const done = Promise.withResolvers<void>();
  queue.after(done.resolve);
  queue.preempt("second", "fatal");
  release();
  await deadline(done.promise, 5000);
  assertEquals(seen, ["first:start", "first:end", "second:fatal"]);
});

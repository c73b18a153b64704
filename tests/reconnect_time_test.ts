/**
 * The client's `reconnect` on a fake clock (SPEC.md, "Reconnecting"): the
 * delay starts at `delay`, grows by `factor` up to `maxDelay`, is randomised
 * by ±`jitter`, and the client ends after `maxRetries` retries in a row
 * have failed. Each try is a real connection to a loopback port where
 * nothing listens (refused at once); only the waits between tries are
 * `setTimeout`s, which `FakeTime` holds, so each test says the exact
 * millisecond of every retry and runs in no real time.
 *
 * @module
 */
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertExists,
  assertMatch,
} from "@std/assert";
import { assertSpyCalls, spy, stub } from "@std/testing/mock";
import {
  ErrorCode,
  WebSocket,
  type WSClientOpenEvent,
  type WSClientReconnectingEvent,
  type WSErrorEvent,
  type WSReconnectOptions,
} from "../mod.ts";
import { listen, Recorder } from "./_helpers.ts";
import { Events, FakeClock } from "./_fake_clock.ts";

/**
 * A client that retries a refused port, its callbacks spied: `retries[i]`
 * is the event of retry `i + 1`.
 */
function refusedClient(reconnect: WSReconnectOptions) {
  const events = new Events();
  const onReconnecting = spy(
    (_ws: WebSocket, _event: WSClientReconnectingEvent) => events.notify(),
  );
  const onError = spy((_ws: WebSocket, _event: WSErrorEvent) => {});
  const onTerminate = spy(() => events.notify());
  const ws = new WebSocket("ws://127.0.0.1:0/", {
    reconnect,
    onReconnecting,
    onError,
    onTerminate,
  });
  return {
    ws,
    onReconnecting,
    onError,
    onTerminate,
    /** The event of retry `n` (from 1), once the try before it failed. */
    async retry(n: number): Promise<WSClientReconnectingEvent> {
      await events.until(
        () => onReconnecting.calls.length >= n,
        `onReconnecting for retry ${n}`,
      );
      assertSpyCalls(onReconnecting, n);
      return onReconnecting.calls[n - 1]?.args[1] as WSClientReconnectingEvent;
    },
    /** Resolves once the client ended for good. */
    ended(): Promise<void> {
      return events.until(() => onTerminate.calls.length === 1, "onTerminate");
    },
  };
}

Deno.test("reconnect on a fake clock: each retry exactly delay × factor^(n−1) after the failure, capped at maxDelay", async () => {
  using time = new FakeClock();
  const client = refusedClient({
    delay: 1,
    factor: 2,
    maxDelay: 5,
    jitter: 0,
    maxRetries: 5,
  });
  const delays = [1, 2, 4, 5, 5];
  for (const [i, delay] of delays.entries()) {
    const event = await client.retry(i + 1);
    assertEquals(
      [event.type, event.code, event.attempt, event.delay],
      ["reconnecting", 1006, i + 1, delay],
    );
    // One millisecond before the delay: still waiting, and the next timer
    // is the retry, 1 ms later.
    await time.tickAsync(delay * 1000 - 1);
    assertSpyCalls(client.onReconnecting, i + 1);
    assertEquals(await time.nextTimer(), 1);
  }
  // The fifth retry failed too: maxRetries, so the client ends, and no timer
  // is left.
  await client.ended();
  assertSpyCalls(client.onReconnecting, 5);
  assertEquals(
    client.onError.calls[0]?.args[1].errors[0]?.errCode,
    ErrorCode.ConnectionFailed,
  );
  assertEquals(client.ws.status, "Closed");
  assertEquals(await time.nextAsync(), false);
});

Deno.test("reconnect on a fake clock: jitter reaches both bounds, delay × (1 ± jitter), after the cap", async () => {
  using time = new FakeClock();
  // The extremes of Math.random: 0, and the largest number below 1.
  const extremes = [0, 1 - 2 ** -53];
  let draws = 0;
  using random = stub(Math, "random", () => extremes[draws++ % 2] as number);
  const client = refusedClient({
    delay: 1,
    factor: 2,
    maxDelay: 4,
    jitter: 0.5,
    maxRetries: 4,
  });
  // Before jitter: 1, 2, 4, 4 (the cap); then × 0.5 (random 0) or just
  // under × 1.5 (random below 1).
  const bounds = [[1, 0.5], [2, 1.5], [4, 0.5], [4, 1.5]] as const;
  for (const [i, [base, scale]] of bounds.entries()) {
    const { delay } = await client.retry(i + 1);
    // Random 0 gives the lower bound exactly; random just below 1 gives the
    // upper bound (to the nearest double), never above it.
    assert(delay <= base * scale, `${delay} is above ${base * scale}`);
    assertAlmostEquals(delay, base * scale, 1e-12);
    // The timer waits the delay given, to the millisecond (timers floor).
    assertEquals(await time.nextTimer(), Math.floor(delay * 1000));
  }
  await client.ended();
  // One draw per retry, none for anything else.
  assertSpyCalls(random, 4);
});

Deno.test("reconnect on a fake clock: maxRetries 2 makes three attempts, then onError ConnectionFailed and onTerminate", async () => {
  using time = new FakeClock();
  const client = refusedClient({ delay: 0.5, jitter: 0, maxRetries: 2 });
  assertEquals((await client.retry(1)).delay, 0.5);
  assertEquals(await time.nextTimer(), 500);
  assertEquals((await client.retry(2)).delay, 1);
  assertEquals(await time.nextTimer(), 1000);
  // The third attempt (second retry) failed: no third retry.
  await client.ended();
  assertSpyCalls(client.onReconnecting, 2);
  assertSpyCalls(client.onError, 1);
  const error = client.onError.calls[0]?.args[1].errors[0];
  assertEquals(error?.errCode, ErrorCode.ConnectionFailed);
  assertMatch(String(error?.message), /after 3 tries/);
  assertSpyCalls(client.onTerminate, 1);
  assertEquals(await time.nextAsync(), false, "no timer left");
});

Deno.test("reconnect on a fake clock: the count starts again at each open, so each break after an open waits delay again", async () => {
  // The server fails (1011, retried) each of the first two connections at
  // open: its onOpen throws.
  let accepted = 0;
  const sessions: Recorder[] = [];
  await using server = listen({
    onConnection: () => {
      const restart = ++accepted <= 2;
      const recorder = new Recorder({
        onOpen() {
          if (restart) throw new Error("not now");
        },
      });
      sessions.push(recorder);
      return recorder;
    },
  });
  using time = new FakeClock();
  const events = new Events();
  const onOpen = spy((_ws: WebSocket, _event: WSClientOpenEvent) =>
    events.notify()
  );
  const onReconnecting = spy(
    (_ws: WebSocket, _event: WSClientReconnectingEvent) => events.notify(),
  );
  const onTerminate = spy(() => events.notify());
  const ws = new WebSocket(server.url, {
    reconnect: { delay: 1, factor: 2, jitter: 0 },
    onOpen,
    onReconnecting,
    onTerminate,
  });
  for (const round of [1, 2]) {
    await events.until(() => onOpen.calls.length === round, `open ${round}`);
    const session = sessions[round - 1];
    assertExists(session);
    await session.opened();
    await time.advance(0); // The server's close goes out a task later.
    await events.until(
      () => onReconnecting.calls.length === round,
      `onReconnecting ${round}`,
    );
    const event = onReconnecting.calls[round - 1]?.args[1];
    // Attempt 1 each time, with the first delay: not 2 s the second time.
    assertEquals(
      [event?.code, event?.attempt, event?.delay],
      [1011, 1, 1],
    );
    await session.terminated();
    assertEquals(await time.nextTimer(), 1000);
  }
  await events.until(() => onOpen.calls.length === 3, "open 3");
  assertEquals(onOpen.calls.map((call) => call.args[1].reconnected), [
    false,
    true,
    true,
  ]);
  ws.terminate();
  await time.advance(0);
  await events.until(() => onTerminate.calls.length === 1, "onTerminate");
  const third = sessions[2];
  assertExists(third);
  await third.terminated();
});

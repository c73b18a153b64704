/**
 * The client's `reconnect` on real sockets (SPEC.md, "Reconnecting"): every
 * retried and every final case, the sequence, the delays, `maxRetries`,
 * `terminate()` during a wait, messages queued across tries. A plain Deno
 * server closes with the codes a `WebSocketConnection` may not send
 * (tests/_close_server.ts); the relay breaks connections and refuses them
 * (testkit/relay.ts). No sleeps: every wait is on an event, with a deadline.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import {
  ErrorCode,
  WebSocket,
  type WSClientHandler,
  type WSClientReconnectingEvent,
} from "../mod.ts";
import { CloseServer, type Plan } from "./_close_server.ts";
import { ClientRecorder, listen, Recorder } from "./_helpers.ts";
import { Relay } from "../testkit/relay.ts";

/** No wait between tries, no randomness. */
const NOW = { delay: 0, jitter: 0 } as const;

/** The events of `onOpen`: the first, one after a reconnect, one resumed. */
const FIRST = { type: "open", reconnected: false, resumed: false } as const;
const REOPENED = { type: "open", reconnected: true, resumed: false } as const;
const RESUMED = { type: "open", reconnected: true, resumed: true } as const;

/** Each `onReconnecting`'s event, in order. */
function reconnectings(log: ClientRecorder): WSClientReconnectingEvent[] {
  return log.calls.filter((call) => call.name === "onReconnecting").map((
    call,
  ) => call.event as unknown as WSClientReconnectingEvent);
}

/** A server that closes the first connection to each path with `first`, then echoes. */
function thenEcho(first: (path: string) => Plan) {
  return new CloseServer((path, n) => n === 1 ? first(path) : { echo: true });
}

Deno.test("reconnect: every close the SPEC retries (1001, 1011, 1012, 1013) connects again, reconnected: true", async () => {
  await using server = thenEcho((path) => ({
    close: Number(path.slice(1)),
    reason: "planned",
  }));
  for (const code of [1001, 1011, 1012, 1013]) {
    const log = new ClientRecorder({ reconnect: NOW });
    const ws = new WebSocket(server.url(`/${code}`), log);
    await log.nthOpen(2);
    assertEquals(ws.status, "Connected");
    ws.terminate();
    const end = await log.terminated();
    assertEquals(
      log.types,
      ["open", "reconnecting", "open", "terminate"],
      `${code}`,
    );
    assertEquals(reconnectings(log), [{
      type: "reconnecting",
      code,
      reason: "planned",
      attempt: 1,
      delay: 0,
    }]);
    assertEquals(log.opens, [FIRST, REOPENED]);
    assertEquals(end.code, 1000);
    assertEquals(server.count(`/${code}`), 2, `${code}: one try more`);
  }
});

Deno.test("reconnect: 1014 from the server is retried where the runtime reports it; Deno 2.9 fails it as a protocol error (final)", async () => {
  // Deno's engine rejects 1014 ("Invalid close code") and cuts: the client
  // gets a fatal ProtocolError, not the code. Node, Bun and Chromium report
  // 1014, which is retried (tests/runtimes_test.ts).
  await using server = thenEcho(() => ({ close: 1014 }));
  const log = new ClientRecorder({ reconnect: NOW });
  new WebSocket(server.url("/1014"), log);
  const end = await log.terminated();
  assertEquals(log.types, ["open", "error", "terminate"]);
  assertEquals(log.errors.map((e) => e.errCode), [
    ErrorCode.ProtocolError,
  ]);
  assertMatch(log.errors[0]?.message ?? "", /Invalid close code/);
  assertEquals(end.code, 1002);
  assertEquals(server.count("/1014"), 1);
});

Deno.test("reconnect: a break (1006) connects again; the server sees a new connection", async () => {
  const far = new Recorder({ onMessage: (ws, event) => ws.send(event.data) });
  await using target = listen({ onConnection: () => far });
  await using relay = new Relay({ hostname: "127.0.0.1", port: target.port });
  const log = new ClientRecorder({ reconnect: NOW });
  const ws = new WebSocket(relay.url("/"), log);
  await log.opened();
  assertEquals(relay.cut(), 1);
  await log.nthOpen(2);
  const [event] = reconnectings(log);
  assertEquals(event?.code, 1006);
  assertEquals(event?.attempt, 1);
  ws.send("after the break");
  await log.received(1);
  assertEquals(log.messages, ["after the break"]);
  ws.terminate();
  await log.terminated();
  assertEquals(log.types, [
    "open",
    "reconnecting",
    "open",
    "message",
    "terminate",
  ]);
  let ended = 0;
  await far.when(
    (call) => call.name === "onTerminate" && ++ended >= 2,
    "the server's second onTerminate",
  );
  assertEquals(relay.counts.connections, 2);
});

Deno.test("reconnect: every close the SPEC makes final (1000, 1002, 1003, 1005, 1007-1010, 3000, 4999) ends without a try", async () => {
  await using server = thenEcho((path) => ({
    close: Number(path.slice(1)),
    reason: path === "/0" ? "" : "meant",
  }));
  // 0: a close frame with no code, which the client reports as 1005.
  for (
    const [code, sent] of [
      [1000, 1000],
      [1002, 1002],
      [1003, 1003],
      [1005, 0],
      [1007, 1007],
      [1008, 1008],
      [1009, 1009],
      [1010, 1010],
      [3000, 3000],
      [4999, 4999],
    ] as const
  ) {
    const log = new ClientRecorder({ reconnect: NOW });
    const ws = new WebSocket(server.url(`/${sent}`), log);
    const end = await log.terminated();
    assertEquals(log.types, ["open", "terminate"], `${code}`);
    assertEquals(end.code, code);
    assertEquals(end.reason, code === 1005 ? "" : "meant");
    assertEquals(ws.status, "Closed");
    assertEquals(server.count(`/${sent}`), 1, `${code}: no other try`);
  }
});

Deno.test("reconnect: a handshake answered 4xx is final, 5xx is retried", async () => {
  await using server = new CloseServer((path, n) => {
    const status = Number(path.slice(1));
    return status >= 500 && n > 1 ? { echo: true } : { status };
  });
  for (const status of [400, 401, 403, 404, 429]) {
    const log = new ClientRecorder({ reconnect: NOW });
    new WebSocket(server.url(`/${status}`), log);
    const end = await log.terminated();
    assertEquals(log.types, ["error", "terminate"], `${status}`);
    assertEquals(end.code, 1006);
    const [error] = log.errors;
    assertEquals(error?.errCode, ErrorCode.ConnectionFailed);
    assertMatch(error?.message ?? "", new RegExp(`after 1 try: .*${status}`));
    assertEquals(server.count(`/${status}`), 1);
  }
  for (const status of [500, 502, 503]) {
    const log = new ClientRecorder({ reconnect: NOW });
    const ws = new WebSocket(server.url(`/${status}`), log);
    await log.opened();
    const [event] = reconnectings(log);
    assertEquals(event?.code, 1006);
    assertMatch(event?.reason ?? "", new RegExp(`${status}`));
    // The first open is not a reconnect, even after a failed try.
    assertEquals(log.opens, [FIRST]);
    ws.terminate();
    await log.terminated();
    assertEquals(log.types, ["reconnecting", "open", "terminate"]);
  }
});

Deno.test("reconnect: a refused port and a handshake with no answer are retried until admitted", async () => {
  await using target = listen({ onConnection: () => new Recorder() });
  for (const how of ["unlisten", "hangup"] as const) {
    await using relay = new Relay({
      hostname: "127.0.0.1",
      port: target.port,
    });
    relay.refuse(how);
    const log = new ClientRecorder({
      reconnect: NOW,
      onReconnecting(_ws, event) {
        if (event.attempt === 3) relay.admit();
      },
    });
    const ws = new WebSocket(relay.url("/"), log);
    await log.opened();
    assertEquals(log.types, [
      "reconnecting",
      "reconnecting",
      "reconnecting",
      "open",
    ], how);
    assertEquals(reconnectings(log).map((e) => [e.code, e.attempt]), [
      [1006, 1],
      [1006, 2],
      [1006, 3],
    ]);
    if (how === "unlisten") {
      assertMatch(reconnectings(log)[0]?.reason ?? "", /connect/i);
    }
    ws.terminate();
    await log.terminated();
  }
});

Deno.test("reconnect: delays grow by factor up to maxDelay (jitter 0), each waited; maxRetries exhausted gives onError ConnectionFailed, then onTerminate", async () => {
  await using target = listen({ onConnection: () => new Recorder() });
  await using relay = new Relay({ hostname: "127.0.0.1", port: target.port });
  relay.refuse();
  const times: number[] = [];
  const log = new ClientRecorder({
    reconnect: {
      delay: 0.02,
      factor: 2,
      maxDelay: 0.1,
      jitter: 0,
      maxRetries: 5,
    },
    onReconnecting() {
      times.push(performance.now());
    },
    onError() {
      times.push(performance.now());
    },
  });
  const ws = new WebSocket(relay.url("/"), log);
  assertEquals(ws.send("never sent"), true);
  const end = await log.terminated();
  assertEquals(log.types, [
    ...Array(5).fill("reconnecting"),
    "error",
    "terminate",
  ]);
  const delays = reconnectings(log).map((e) => e.delay);
  const expected = [0.02, 0.04, 0.08, 0.1, 0.1];
  delays.forEach((delay, i) =>
    assert(Math.abs(delay - (expected[i] as number)) < 1e-9, `${delays}`)
  );
  assertEquals(reconnectings(log).map((e) => e.attempt), [1, 2, 3, 4, 5]);
  // Each try came at least its delay after the one before (lower bounds
  // only; a timer may fire up to 1 ms early against performance.now()).
  for (const [i, delay] of delays.entries()) {
    const gap = (times[i + 1] as number) - (times[i] as number);
    assert(gap >= delay * 1000 - 1, `gap ${i + 1}: ${gap} ms < ${delay} s`);
  }
  assertEquals(log.errors.map((e) => e.errCode), [
    ErrorCode.MessagesDropped,
    ErrorCode.ConnectionFailed,
  ]);
  assertMatch(
    log.errors[1]?.message ?? "",
    new RegExp(`^Cannot connect to ${relay.url("/")} after 6 tries: `),
  );
  assertEquals(end.code, 1006);
  assertEquals(ws.status, "Closed");
  assertEquals(ws.send("late"), false);
});

Deno.test("reconnect: jitter keeps each delay within ± its fraction", async () => {
  await using target = listen({ onConnection: () => new Recorder() });
  await using relay = new Relay({ hostname: "127.0.0.1", port: target.port });
  relay.refuse();
  const log = new ClientRecorder({
    reconnect: { delay: 0.01, factor: 1.5, jitter: 0.5, maxRetries: 6 },
  });
  new WebSocket(relay.url("/"), log);
  await log.terminated();
  const events = reconnectings(log);
  assertEquals(events.length, 6);
  for (const event of events) {
    const base = 0.01 * 1.5 ** (event.attempt - 1);
    assert(
      event.delay >= base * 0.5 && event.delay <= base * 1.5,
      `attempt ${event.attempt}: ${event.delay}`,
    );
  }
});

/**
 * A client with `maxRetries: 1` through `relay`, its connection cut after
 * each of its first three opens, terminated once it opened a fourth time:
 * resolves with its calls.
 */
async function cutThrice(relay: Relay): Promise<ClientRecorder> {
  const log = new ClientRecorder({ reconnect: { ...NOW, maxRetries: 1 } });
  const ws = new WebSocket(relay.url("/"), log);
  for (let open = 1; open <= 3; open++) {
    await log.nthOpen(open);
    relay.cut();
  }
  await log.nthOpen(4);
  ws.terminate();
  await log.terminated();
  return log;
}

Deno.test("reconnect: the count starts again at each open, and maxRetries: 0 ends at the first break without onError", async () => {
  const far = new Recorder();
  await using target = listen({ onConnection: () => far });
  await using relay = new Relay({ hostname: "127.0.0.1", port: target.port });
  const log = await cutThrice(relay);
  // Each break is retry 1 again: maxRetries: 1 allows three breaks in a row.
  assertEquals(reconnectings(log).map((e) => e.attempt), [1, 1, 1]);
  assertEquals(log.opens, [FIRST, REOPENED, REOPENED, REOPENED]);

  const once = new ClientRecorder({ reconnect: { ...NOW, maxRetries: 0 } });
  new WebSocket(relay.url("/"), once);
  await once.opened();
  relay.cut();
  const end = await once.terminated();
  assertEquals(once.types, ["open", "terminate"]);
  assertEquals(end.code, 1006);
});

Deno.test("reconnect: the count starts again at a resumed open too (maxRetries: 1, three resumed breaks in a row)", async () => {
  const far = new Recorder();
  await using target = listen({ onConnection: () => far }, { resume: true });
  await using relay = new Relay({ hostname: "127.0.0.1", port: target.port });
  const log = await cutThrice(relay);
  assertEquals(log.opens, [FIRST, RESUMED, RESUMED, RESUMED]);
  assertEquals(reconnectings(log).map((e) => e.attempt), [1, 1, 1]);
});

Deno.test("reconnect: terminate() during a wait ends at once, no further try; queued messages are dropped with MessagesDropped", async () => {
  await using server = thenEcho(() => ({ close: 1012 }));
  const log = new ClientRecorder({ reconnect: { delay: 60 } });
  const ws = new WebSocket(server.url("/wait"), log);
  await log.when((call) => call.name === "onReconnecting", "onReconnecting");
  assertEquals(ws.status, "Connecting");
  assertEquals(ws.protocol, "");
  assertEquals(ws.bufferedAmount, 0);
  assertEquals(ws.send("queued"), true);
  // A 60 s timer left pending would fail the test (--sanitize-ops).
  ws.terminate(4000, "bye");
  assertEquals(ws.status, "Closed");
  const end = await log.terminated(100);
  assertEquals(log.types, ["open", "reconnecting", "error", "terminate"]);
  assertEquals(log.errors.map((e) => e.errCode), [
    ErrorCode.MessagesDropped,
  ]);
  assertEquals(
    { code: end.code, reason: end.reason, wasClean: end.wasClean },
    { code: 4000, reason: "bye", wasClean: false },
  );
  assertEquals(ws.send("after"), false);
  assertEquals(server.count("/wait"), 1);
});

Deno.test("reconnect: terminate() inside onReconnecting ends at once", async () => {
  await using server = thenEcho(() => ({ close: 1013 }));
  const log = new ClientRecorder({
    reconnect: { delay: 60 },
    onReconnecting: (ws) => ws.terminate(),
  });
  new WebSocket(server.url("/inside"), log);
  const end = await log.terminated();
  assertEquals(log.types, ["open", "reconnecting", "terminate"]);
  assertEquals(end.code, 1000);
  assertEquals(server.count("/inside"), 1);
});

Deno.test("reconnect: an onReconnecting that throws is a fatal error: onError, onTerminate, no further try", async () => {
  await using server = thenEcho(() => ({ close: 1012 }));
  const log = new ClientRecorder({
    reconnect: { delay: 60 },
    onReconnecting() {
      throw new Error("boom");
    },
  });
  new WebSocket(server.url("/throws"), log);
  const end = await log.terminated();
  assertEquals(log.types, ["open", "reconnecting", "error", "terminate"]);
  assertEquals(log.errors.map((e) => e.errCode), [
    ErrorCode.CallbackFailed,
  ]);
  assertEquals(end.code, 1000);
  assertEquals(end.reason, "client error");
  assertEquals(server.count("/throws"), 1);
});

Deno.test("reconnect: a fatal error of the data is final (no retry)", async () => {
  const far = new Recorder({ onOpen: (ws) => ws.send("{not json") });
  await using target = listen({ onConnection: () => far });
  const log = new ClientRecorder({ reconnect: NOW, dataType: "object" });
  new WebSocket(target.url, log);
  const end = await log.terminated();
  assertEquals(log.types, ["open", "error", "terminate"]);
  assertEquals(log.errors[0]?.errCode, ErrorCode.InvalidJSON);
  assertEquals(end.code, 1000);
  assertEquals(far.types.filter((type) => type === "open").length, 1);
});

Deno.test("reconnect: messages sent while Connecting wait across tries (up to maxQueued) and go out in order at the next open", async () => {
  const far = new Recorder();
  await using target = listen({ onConnection: () => far });
  await using relay = new Relay({ hostname: "127.0.0.1", port: target.port });
  relay.refuse();
  let sent = 0;
  const log = new ClientRecorder({
    reconnect: NOW,
    maxQueued: 100,
    onReconnecting(ws, event) {
      for (let i = 0; i < 30; i++) ws.send(`m${sent++}`);
      if (event.attempt === 3) relay.admit();
    },
  });
  const ws = new WebSocket(relay.url("/"), log);
  // 90 queued over three tries, then 10 more fit, then the queue is full.
  await log.opened();
  await far.received(90);
  assertEquals(
    far.messages,
    Array.from({ length: 90 }, (_, i) => `m${i}`),
  );

  // After a break too: what waits goes out first, in order, then the rest.
  far.calls.length = 0;
  relay.refuse();
  relay.cut();
  await log.when(
    (call) =>
      call.name === "onReconnecting" &&
      (call.event as unknown as WSClientReconnectingEvent).attempt === 3,
    "three tries after the break",
  );
  await log.nthOpen(2);
  ws.send("after");
  await far.received(91);
  assertEquals(far.messages, [
    ...Array.from({ length: 90 }, (_, i) => `m${90 + i}`),
    "after",
  ]);
  ws.terminate();
  await log.terminated();
});

Deno.test("reconnect: maxQueued holds across tries; send returns false past it", async () => {
  await using target = listen({ onConnection: () => new Recorder() });
  await using relay = new Relay({ hostname: "127.0.0.1", port: target.port });
  relay.refuse();
  const results: boolean[] = [];
  const log = new ClientRecorder({
    reconnect: NOW,
    maxQueued: 3,
    onReconnecting(ws, event) {
      results.push(ws.send(event.attempt), ws.send(event.attempt));
      if (event.attempt === 2) ws.terminate();
    },
  });
  new WebSocket(relay.url("/"), log);
  await log.terminated();
  assertEquals(results, [true, true, true, false]);
  assertMatch(log.errors[0]?.message ?? "", /Cannot send 3 queued/);
});

Deno.test("reconnect: id, handler, url and dataType stay the same across reconnects", async () => {
  await using server = thenEcho(() => ({ close: 1012 }));
  const handler: WSClientHandler<"blob"> = {
    dataType: "blob",
    reconnect: NOW,
  };
  const log = new ClientRecorder(handler);
  const url = server.url("/same");
  const ws = new WebSocket(url, log);
  const before = [ws.id, ws.handler, ws.url, ws.dataType];
  await log.nthOpen(2);
  assertEquals([ws.id, ws.handler, ws.url, ws.dataType], before);
  assertStrictEquals(ws.handler, log);
  ws.send("bytes");
  await log.received(1);
  assertEquals(log.messages, [new TextEncoder().encode("bytes")]);
  ws.terminate();
  await log.terminated();
});

Deno.test("without reconnect: a retried code ends the client as before (4D sequence), onOpen says reconnected: false", async () => {
  await using server = thenEcho(() => ({ close: 1012 }));
  const log = new ClientRecorder();
  new WebSocket(server.url("/off"), log);
  const end = await log.terminated();
  assertEquals(log.types, ["open", "terminate"]);
  assertEquals(end.code, 1012);
  assertEquals(log.opens, [FIRST]);
  assertEquals(server.count("/off"), 1);
});

Deno.test("reconnect: handler.reconnect is checked at construction", () => {
  assertThrows(
    () => new WebSocket("ws://127.0.0.1:9", { reconnect: 1 as never }),
    TypeError,
    "Cannot create WebSocket: handler.reconnect must be true or an object, current value is 1",
  );
  assertThrows(
    () => new WebSocket("ws://127.0.0.1:9", { reconnect: { delay: -1 } }),
    RangeError,
  );
  assertThrows(
    () =>
      new WebSocket("ws://127.0.0.1:9", {
        reconnect: { retries: 1 } as never,
      }),
    TypeError,
    "handler.reconnect.retries is not an option",
  );
});

Deno.test("reconnect: true uses the defaults (first delay within 0.5 s ± 50 %)", async () => {
  await using server = thenEcho(() => ({ close: 1012 }));
  const log = new ClientRecorder({
    reconnect: true,
    onReconnecting: (ws) => ws.terminate(),
  });
  new WebSocket(server.url("/defaults"), log);
  await log.terminated();
  const [event] = reconnectings(log);
  assert(
    event !== undefined && event.delay >= 0.25 && event.delay <= 0.75,
    `${event?.delay}`,
  );
  assertEquals(server.count("/defaults"), 1);
});

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
  WebSocketClient,
  type WSError,
  type WSRequest,
} from "../mod.ts";
import { ClientRecorder, listen, Recorder } from "./_helpers.ts";

const echo = {
  onConnection: () => ({
    onMessage: (
      ws: { send(m: unknown): void },
      event: { data: unknown },
    ) => ws.send(event.data),
  }),
};

Deno.test("WebSocket() throws SyntaxError for a URL that is not ws:// or wss://", () => {
  for (const url of ["http://localhost/", "not a url", "ws://host/#frag"]) {
    assertThrows(() => new WebSocket(url), SyntaxError, "url");
  }
  assertThrows(() => new WebSocket(42 as never), TypeError);
  assertThrows(
    () => new WebSocket("ws://localhost:9", { dataType: "json" as never }),
    TypeError,
    "handler.dataType",
  );
  assertThrows(
    () => new WebSocket("ws://localhost:9", { headers: { a: 1 } as never }),
    TypeError,
    'handler.headers["a"]',
  );
  assertStrictEquals(WebSocketClient, WebSocket);
});

for (const dataType of ["text", "blob", "object"] as const) {
  Deno.test(`WebSocket round trips under dataType "${dataType}"`, async () => {
    await using server = listen(echo);
    const log = new ClientRecorder({ dataType });
    const ws = WebSocket.new(server.url, log);
    assertEquals(ws.status, "Connecting");
    ws.send("é");
    ws.send(new Uint8Array([0x7b, 0x7d]));
    ws.send({ n: 1 });
    await log.opened();
    assertEquals(ws.status, "Connected");
    if (dataType !== "object") await log.received(3);
    else await log.terminated();
    const seen = log.messages.map((m) => m instanceof Uint8Array ? [...m] : m);
    const expected = {
      text: ["é", "{}", '{"n":1}'],
      blob: [[195, 169], [0x7b, 0x7d], [
        ...new TextEncoder().encode('{"n":1}'),
      ]],
      object: [null, {}, { n: 1 }],
    }[dataType];
    if (dataType === "object") {
      // "é" is not JSON: fatal, so only what came before it counts.
      assertEquals(log.types.slice(0, 2), ["open", "error"]);
    } else {
      assertEquals(seen, expected);
    }
    ws.terminate();
    const end = await log.terminated();
    assertEquals(log.types.at(-1), "terminate");
    assertEquals(ws.status, "Closed");
    assertEquals(typeof end.wasClean, "boolean");
  });
}

Deno.test('WebSocket under "object": invalid JSON gives onError then a close 1000', async () => {
  const far = new Recorder({ onOpen: (ws) => ws.send("{oops") });
  await using server = listen({ onConnection: () => far });
  const log = new ClientRecorder({ dataType: "object" });
  new WebSocket(server.url, log);
  const end = await log.terminated();
  assertEquals(log.types, ["open", "error", "terminate"]);
  assertEquals(log.errors.map((e) => e.errCode), [ErrorCode.InvalidJSON]);
  assertEquals(end.code, 1000);
  const farEnd = await far.terminated();
  assertEquals(farEnd.code, 1000);
  assertEquals(farEnd.reason, "invalid JSON");
});

Deno.test("WebSocket sends headers, a repeated one and Cookie, and subprotocols", async () => {
  let request: WSRequest | undefined;
  const far = new Recorder();
  await using server = listen({
    onConnection(_wss, event) {
      request = event.request;
      return far;
    },
  }, { protocols: ["v2"] });
  const log = new ClientRecorder({
    headers: { "x-token": "abc", "x-multi": ["1", "2"], cookie: "a=1; b=2" },
    protocols: ["v1", "v2"],
  });
  const ws = new WebSocket(server.url, log);
  await log.opened();
  assertEquals(ws.protocol, "v2");
  assertEquals(request?.headers["x-token"], "abc");
  assertEquals(request?.headers["x-multi"], "1, 2");
  assertEquals(request?.headers["cookie"], "a=1; b=2");
  ws.terminate(4001, "done");
  const end = await log.terminated();
  assertEquals(end.code, 4001);
  await far.terminated();
  assertEquals(far.calls.at(-1)?.event.code, 4001);
  assertEquals(far.calls.at(-1)?.event.reason, "done");
});

Deno.test("WebSocket that cannot connect: onError naming the URL and why, then onTerminate 1006, no onOpen", async () => {
  await using refusing = listen({ onConnection: () => null }, { path: "/ws" });
  const { port } = refusing;
  const cases: [string, RegExp][] = [
    [`ws://127.0.0.1:${port}/ws`, /403/], // onConnection refused
    [`ws://127.0.0.1:${port}/elsewhere`, /404/], // not the server's path
  ];
  for (const [url, why] of cases) {
    const log = new ClientRecorder();
    const ws = new WebSocket(url, log);
    assertEquals(ws.send("dropped"), true, "queued while connecting");
    const end = await log.terminated();
    assertEquals(log.types, ["error", "terminate"], url);
    assertEquals(end.code, 1006);
    assertEquals(ws.status, "Closed");
    assertEquals(log.errors.map((e) => e.errCode), [
      ErrorCode.MessagesDropped,
      ErrorCode.ConnectionFailed,
    ]);
    const failed = log.errors[1] as WSError;
    assert(failed.message.startsWith(`Cannot connect to ${url}: `));
    assertMatch(failed.message, why);
    assert(failed.cause instanceof Event, "cause is the runtime's event");
    assertEquals(ws.send("late"), false);
  }
  await refusing.wss.terminate();
  // Refused: nothing listens on that port any more.
  const log = new ClientRecorder();
  const url = `ws://127.0.0.1:${port}/`;
  new WebSocket(url, log);
  assertEquals((await log.terminated()).code, 1006);
  assertEquals(log.types, ["error", "terminate"]);
  assertMatch(
    log.errors[0]?.message ?? "",
    /^Cannot connect to ws:\/\/127\.0\.0\.1:\d+\/: .*(connect|refused)/i,
  );
});

Deno.test("WebSocket queues at most maxQueued messages while connecting", async () => {
  await using server = listen(echo);
  const log = new ClientRecorder({ maxQueued: 2 });
  const ws = new WebSocket(server.url, log);
  assertEquals([ws.send("a"), ws.send("b"), ws.send("c")], [
    true,
    true,
    false,
  ]);
  await log.received(2);
  assertEquals(log.messages, ["a", "b"]);
  assertThrows(
    () => new WebSocket(server.url, { maxQueued: -1 }),
    RangeError,
    "handler.maxQueued",
  );
  ws.terminate();
  await log.terminated();
});

Deno.test("WebSocket.terminate() accepts 1000 and 3000-4999 only", async () => {
  await using server = listen(echo);
  const log = new ClientRecorder();
  const ws = new WebSocket(server.url, log);
  await log.opened();
  for (const code of [1001, 1011, 2999, 5000, 3000.5]) {
    assertThrows(() => ws.terminate(code), RangeError, "1000 or 3000-4999");
  }
  assertThrows(() => ws.terminate("1000" as never), TypeError);
  assertThrows(() => ws.terminate(1000, "x".repeat(200)), RangeError);
  assertEquals(ws.status, "Connected");
  ws.terminate();
  assertEquals(ws.status, "Closing");
  assertEquals(ws.send("after"), false);
  assertThrows(
    // @ts-expect-error: undefined cannot be sent, and does not type-check
    () => ws.send(undefined),
    TypeError,
    undefined,
    "the value is checked first",
  );
  assertEquals((await log.terminated()).code, 1000);
  assertEquals(ws.send("after the end"), false);
});

Deno.test("WebSocket: a throwing callback gives onError once, a close, onTerminate", async () => {
  const far = new Recorder({
    onOpen(ws) {
      ws.send("one");
      ws.send("two");
    },
  });
  await using server = listen({ onConnection: () => far });
  let self: unknown;
  const log = new ClientRecorder({
    async onMessage() {
      self = this;
      await Promise.resolve();
      throw new Error("client callback");
    },
  });
  new WebSocket(server.url, log);
  const end = await log.terminated();
  assertStrictEquals(self, log);
  assertEquals(log.types, ["open", "message", "error", "terminate"]);
  assertEquals(log.errors.map((e) => e.errCode), [
    ErrorCode.CallbackFailed,
  ]);
  assertEquals(end.code, 1000);
  assertEquals((await far.terminated()).reason, "client error");
});

Deno.test("WebSocket gets the server's close code and reason", async () => {
  await using server = listen({
    onConnection: () => ({
      onMessage: (ws: { terminate(c: number, m: string): void }) =>
        ws.terminate(4321, "bye"),
    }),
  });
  const log = new ClientRecorder();
  const ws = new WebSocket(server.url, log);
  ws.send("close me");
  const end = await log.terminated();
  assertEquals(
    { code: end.code, reason: end.reason, wasClean: end.wasClean },
    { code: 4321, reason: "bye", wasClean: true },
  );
  assert(ws.id > 0 && Number.isInteger(ws.id));
  assertEquals(ws.url, server.url);
});

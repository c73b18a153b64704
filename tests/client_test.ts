import assert from "node:assert/strict";
import {
  ErrorCode,
  WebSocket,
  WebSocketClient,
  type WSClientHandler,
  type WSClientTerminateEvent,
  type WSError,
  type WSRequest,
} from "../mod.ts";
import { deadline, listen, Recorder } from "./_helpers.ts";

/** A client handler that records its callbacks, with a promise of the end. */
function recording(settings: Partial<WSClientHandler> = {}) {
  const types: string[] = [];
  const messages: unknown[] = [];
  const errors: WSError[] = [];
  const ended = Promise.withResolvers<WSClientTerminateEvent>();
  const opened = Promise.withResolvers<void>();
  const waitFor = { count: -1, resolve: () => {} };
  const handler: WSClientHandler = {
    onOpen() {
      types.push("open");
      opened.resolve();
    },
    onMessage(_ws, event) {
      types.push("message");
      messages.push(event.data);
      if (messages.length === waitFor.count) waitFor.resolve();
    },
    onError(_ws, event) {
      types.push("error");
      errors.push(...event.errors);
    },
    onTerminate(_ws, event) {
      types.push("terminate");
      ended.resolve(event);
    },
    ...settings,
  };
  return {
    handler,
    types,
    messages,
    errors,
    opened: () => deadline(opened.promise, "client onOpen"),
    ended: () => deadline(ended.promise, "client onTerminate"),
    received(count: number) {
      const { promise, resolve } = Promise.withResolvers<void>();
      Object.assign(waitFor, { count, resolve });
      if (messages.length >= count) resolve();
      return deadline(promise, `${count} client messages`);
    },
  };
}

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
    assert.throws(() => new WebSocket(url), {
      name: "SyntaxError",
      message: /url/,
    });
  }
  assert.throws(() => new WebSocket(42 as never), TypeError);
  assert.throws(
    () => new WebSocket("ws://localhost:9", { dataType: "json" as never }),
    { name: "TypeError", message: /handler\.dataType/ },
  );
  assert.throws(
    () => new WebSocket("ws://localhost:9", { headers: { a: 1 } as never }),
    { name: "TypeError", message: /handler\.headers\["a"\]/ },
  );
  assert.equal(WebSocketClient, WebSocket);
});

for (const dataType of ["text", "blob", "object"] as const) {
  Deno.test(`WebSocket round trips under dataType "${dataType}"`, async () => {
    await using wss = listen(echo);
    const log = recording({ dataType });
    const ws = WebSocket.new(wss.url, log.handler);
    assert.equal(ws.status, "Connecting");
    ws.send("é");
    ws.send(new Uint8Array([0x7b, 0x7d]));
    ws.send({ n: 1 });
    await log.opened();
    assert.equal(ws.status, "Connected");
    if (dataType !== "object") await log.received(3);
    else await log.ended();
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
      assert.deepEqual(log.types.slice(0, 2), ["open", "error"]);
    } else {
      assert.deepEqual(seen, expected);
    }
    ws.terminate();
    const end = await log.ended();
    assert.equal(log.types.at(-1), "terminate");
    assert.equal(ws.status, "Closed");
    assert.equal(typeof end.wasClean, "boolean");
  });
}

Deno.test('WebSocket under "object": invalid JSON gives onError then a close 1000', async () => {
  const server = new Recorder();
  await using wss = listen({
    onConnection: () => ({
      onOpen: (ws: { send(m: unknown): void }) => ws.send("{oops"),
      onMessage() {},
      onTerminate: (ws, e) => server.record("onTerminate", ws, e),
    }),
  });
  const log = recording({ dataType: "object" });
  new WebSocket(wss.url, log.handler);
  const end = await log.ended();
  assert.deepEqual(log.types, ["open", "error", "terminate"]);
  assert.deepEqual(log.errors.map((e) => e.errCode), [ErrorCode.InvalidJSON]);
  assert.equal(end.code, 1000);
  await server.terminated();
  assert.equal(server.calls[0]?.event.code, 1000);
  assert.equal(server.calls[0]?.event.reason, "invalid JSON");
});

Deno.test("WebSocket sends headers, a repeated one and Cookie, and subprotocols", async () => {
  let request: WSRequest | undefined;
  const server = new Recorder();
  await using wss = listen({
    onConnection(_wss, event) {
      request = event.request;
      return server;
    },
  }, { protocols: ["v2"] });
  const log = recording({
    headers: { "x-token": "abc", "x-multi": ["1", "2"], cookie: "a=1; b=2" },
    protocols: ["v1", "v2"],
  });
  const ws = new WebSocket(wss.url, log.handler);
  await log.opened();
  assert.equal(ws.protocol, "v2");
  assert.equal(request?.headers["x-token"], "abc");
  assert.equal(request?.headers["x-multi"], "1, 2");
  assert.equal(request?.headers["cookie"], "a=1; b=2");
  ws.terminate(4001, "done");
  const end = await log.ended();
  assert.equal(end.code, 4001);
  await server.terminated();
  assert.equal(server.calls.at(-1)?.event.code, 4001);
  assert.equal(server.calls.at(-1)?.event.reason, "done");
});

Deno.test("WebSocket that cannot connect: onError naming the URL and why, then onTerminate 1006, no onOpen", async () => {
  const refusing = listen({ onConnection: () => null }, { path: "/ws" });
  const port = refusing.addr?.port;
  const cases: [string, RegExp][] = [
    [`ws://127.0.0.1:${port}/ws`, /403/], // onConnection refused
    [`ws://127.0.0.1:${port}/elsewhere`, /404/], // not the server's path
  ];
  for (const [url, why] of cases) {
    const log = recording();
    const ws = new WebSocket(url, log.handler);
    assert.equal(ws.send("dropped"), true, "queued while connecting");
    const end = await log.ended();
    assert.deepEqual(log.types, ["error", "terminate"], url);
    assert.equal(end.code, 1006);
    assert.equal(ws.status, "Closed");
    assert.deepEqual(log.errors.map((e) => e.errCode), [
      ErrorCode.MessagesDropped,
      ErrorCode.ConnectionFailed,
    ]);
    const failed = log.errors[1] as WSError;
    assert.ok(failed.message.startsWith(`Cannot connect to ${url}: `));
    assert.match(failed.message, why);
    assert.ok(failed.cause instanceof Event, "cause is the runtime's event");
    assert.equal(ws.send("late"), false);
  }
  await refusing.terminate();
  // Refused: nothing listens on that port any more.
  const log = recording();
  const url = `ws://127.0.0.1:${port}/`;
  new WebSocket(url, log.handler);
  assert.equal((await log.ended()).code, 1006);
  assert.deepEqual(log.types, ["error", "terminate"]);
  assert.match(
    log.errors[0]?.message ?? "",
    /^Cannot connect to ws:\/\/127\.0\.0\.1:\d+\/: .*(connect|refused)/i,
  );
});

Deno.test("WebSocket queues at most maxQueued messages while connecting", async () => {
  await using wss = listen(echo);
  const log = recording({ maxQueued: 2 });
  const ws = new WebSocket(wss.url, log.handler);
  assert.deepEqual([ws.send("a"), ws.send("b"), ws.send("c")], [
    true,
    true,
    false,
  ]);
  await log.received(2);
  assert.deepEqual(log.messages, ["a", "b"]);
  assert.throws(() => new WebSocket(wss.url, { maxQueued: -1 }), {
    name: "RangeError",
    message: /handler\.maxQueued/,
  });
  ws.terminate();
  await log.ended();
});

Deno.test("WebSocket.terminate() accepts 1000 and 3000-4999 only", async () => {
  await using wss = listen(echo);
  const log = recording();
  const ws = new WebSocket(wss.url, log.handler);
  await log.opened();
  for (const code of [1001, 1011, 2999, 5000, 3000.5]) {
    assert.throws(() => ws.terminate(code), {
      name: "RangeError",
      message: /1000 or 3000-4999/,
    });
  }
  assert.throws(() => ws.terminate("1000" as never), TypeError);
  assert.throws(() => ws.terminate(1000, "x".repeat(200)), RangeError);
  assert.equal(ws.status, "Connected");
  ws.terminate();
  assert.equal(ws.status, "Closing");
  assert.equal(ws.send("after"), false);
  assert.throws(
    () => ws.send(undefined),
    TypeError,
    "the value is checked first",
  );
  assert.equal((await log.ended()).code, 1000);
  assert.equal(ws.send("after the end"), false);
});

Deno.test("WebSocket: a throwing callback gives onError once, a close, onTerminate", async () => {
  const server = new Recorder();
  await using wss = listen({
    onConnection: () => ({
      onOpen: (ws: { send(m: unknown): void }) => {
        ws.send("one");
        ws.send("two");
      },
      onMessage() {},
      onTerminate: (ws, e) => server.record("onTerminate", ws, e),
    }),
  });
  let self: unknown;
  const log = recording();
  log.handler.onMessage = async function (this: unknown) {
    self = this;
    log.types.push("message");
    await Promise.resolve();
    throw new Error("client callback");
  };
  new WebSocket(wss.url, log.handler);
  const end = await log.ended();
  assert.equal(self, log.handler);
  assert.deepEqual(log.types, ["open", "message", "error", "terminate"]);
  assert.deepEqual(log.errors.map((e) => e.errCode), [
    ErrorCode.CallbackFailed,
  ]);
  assert.equal(end.code, 1000);
  await server.terminated();
  assert.equal(server.calls[0]?.event.reason, "client error");
});

Deno.test("WebSocket gets the server's close code and reason", async () => {
  await using wss = listen({
    onConnection: () => ({
      onMessage: (ws: { terminate(c: number, m: string): void }) =>
        ws.terminate(4321, "bye"),
    }),
  });
  const log = recording();
  const ws = new WebSocket(wss.url, log.handler);
  ws.send("close me");
  const end = await log.ended();
  assert.deepEqual(
    { code: end.code, reason: end.reason, wasClean: end.wasClean },
    { code: 4321, reason: "bye", wasClean: true },
  );
  assert.ok(ws.id > 0 && Number.isInteger(ws.id));
  assert.equal(ws.url, wss.url);
});

import {
  assert,
  assertEquals,
  assertMatch,
  assertNotStrictEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { deadline } from "@std/async";
import { assertSpyCalls, spy } from "@std/testing/mock";
import {
  ErrorCode,
  WebSocketServer,
  type WSRequest,
  type WSServerErrorEvent,
} from "../mod.ts";
import { upgradeHeaders } from "../testkit/frames.ts";
import { connect, hangUp, listen, Recorder } from "./_helpers.ts";
import {
  rawPeer,
  rawRequest,
  readHead,
  upgradeHead,
} from "../testkit/raw_peer.ts";

const echo = () => ({
  onMessage: (ws: { send(m: unknown): void }, e: { data: unknown }) =>
    ws.send(e.data),
});

/** The errCode of each error a spied `onError` was given, in order. */
function errCodes(
  calls: readonly { readonly args: readonly [unknown, WSServerErrorEvent] }[],
): number[] {
  return calls.flatMap((call) => call.args[1].errors.map((e) => e.errCode));
}

/** An upgrade request for `path`, to hand to `wss.fetch`. */
function upgradeRequest(path = "/", headers: Record<string, string> = {}) {
  return new Request(`http://localhost${path}`, {
    headers: upgradeHeaders(headers),
  });
}

Deno.test("WebSocketServer() throws TypeError without handler.onConnection", () => {
  assertThrows(
    // @ts-expect-error: the handler lacks onConnection on purpose
    () => new WebSocketServer({}),
    TypeError,
    "handler.onConnection must be a function",
  );
  assertThrows(
    // @ts-expect-error: no handler at all
    () => WebSocketServer.new(null),
    TypeError,
  );
});

Deno.test("WebSocketServer() names each wrong option", () => {
  const ok = { onConnection: () => null };
  const cases: [
    Record<string, unknown>,
    TypeErrorConstructor | RangeErrorConstructor,
    RegExp,
  ][] = [
    [{ dataType: "json" }, TypeError, /options\.dataType.*"json"/],
    [{ port: -1 }, RangeError, /options\.port.*-1/],
    [{ port: "80" }, TypeError, /options\.port must be a number/],
    [{ idleTimeout: -5 }, RangeError, /options\.idleTimeout/],
    [{ maxConnections: 0 }, RangeError, /options\.maxConnections/],
    [{ maxMessageSize: 1.5 }, RangeError, /options\.maxMessageSize/],
    [{ maxBufferedAmount: 0 }, RangeError, /options\.maxBufferedAmount/],
    [{ closeTimeout: -1 }, RangeError, /options\.closeTimeout/],
    [{ closeTimeout: "1" }, TypeError, /options\.closeTimeout/],
    [{ protocols: "chat" }, TypeError, /options\.protocols/],
    [{ protocols: ["a b"] }, TypeError, /options\.protocols/],
    [{ allowedOrigins: [1] }, TypeError, /options\.allowedOrigins/],
    [{ path: 42 }, TypeError, /options\.path must be a string/],
    [
      { path: "ws" },
      TypeError,
      /options\.path must begin with "\/", current value is "ws"/,
    ],
    [{ signals: "SIGINT" }, TypeError, /options\.signals/],
    [{ cert: "x" }, TypeError, /options\.cert and options\.key/],
    [{ colour: "red" }, TypeError, /options\.colour is not an option/],
  ];
  for (const [options, ErrorClass, message] of cases) {
    const error = assertThrows(
      () => new WebSocketServer(ok, options as never),
      ErrorClass,
      undefined,
      JSON.stringify(options),
    );
    assertMatch(error.message, message, JSON.stringify(options));
  }
});

Deno.test("WebSocketServer.new() and properties", async () => {
  const handler = { onConnection: () => null };
  await using wss = WebSocketServer.new(handler, {
    path: "/ws",
    dataType: "object",
  });
  assert(wss instanceof WebSocketServer);
  assertStrictEquals(wss.handler, handler);
  assertEquals(wss.path, "/ws");
  assertEquals(wss.dataType, "object");
  assertEquals(wss.addr, undefined);
  assertEquals(wss.connections, []);
  assertEquals(wss.terminated, false);
  const done = wss.terminate();
  assertStrictEquals(wss.terminate(), done);
  await done;
  assertEquals(wss.terminated, true);
});

Deno.test("WebSocketServer.fetch() answers 426, 404, 403, 503 without a socket", async () => {
  await using wss = new WebSocketServer({ onConnection: () => null }, {
    path: "/ws",
    allowedOrigins: ["https://good.example"],
  });
  const plain = await wss.fetch(new Request("http://localhost/ws"));
  assertEquals(plain.status, 426);
  assertEquals(plain.headers.get("upgrade"), "websocket");
  await plain.body?.cancel();
  const other = await wss.fetch(upgradeRequest("/elsewhere"));
  assertEquals(other.status, 404);
  await other.body?.cancel();
  const origin = await wss.fetch(
    upgradeRequest("/ws", { origin: "https://evil.example" }),
  );
  assertEquals(origin.status, 403);
  await origin.body?.cancel();
  const refused = await wss.fetch(
    upgradeRequest("/ws", { origin: "https://good.example" }),
  );
  assertEquals(refused.status, 403, "onConnection returned null");
  await refused.body?.cancel();
  assertEquals(wss.handles(new Request("http://localhost/ws")), true);
  assertEquals(wss.handles(new Request("http://localhost/ws/x")), false);
  await wss.terminate();
  const after = await wss.fetch(upgradeRequest("/ws"));
  assertEquals(after.status, 503);
  await after.body?.cancel();
});

Deno.test("WebSocketServer.fetch() answers 500 and reports a throwing onConnection", async () => {
  const onError = spy(
    (_wss: WebSocketServer, _event: WSServerErrorEvent) => {},
  );
  await using wss = new WebSocketServer({
    onConnection() {
      throw new Error("nope");
    },
    onError,
  });
  const response = await wss.fetch(upgradeRequest());
  assertEquals(response.status, 500);
  await response.body?.cancel();
  await wss.terminate();
  assertSpyCalls(onError, 1);
  const [error] = onError.calls[0]?.args[1].errors ?? [];
  assertEquals(error?.errCode, ErrorCode.ConnectionRefused);
  assertEquals(error?.componentSignature, "ws4d");
});

Deno.test("WebSocketServer refuses a handler without onMessage and says why", async () => {
  const onError = spy(
    (_wss: WebSocketServer, _event: WSServerErrorEvent) => {},
  );
  await using wss = new WebSocketServer({
    onConnection: () => ({ onOpen() {} }) as never,
    onError,
  });
  const response = await wss.fetch(upgradeRequest());
  assertEquals(response.status, 403);
  await response.body?.cancel();
  await wss.terminate();
  assertEquals(errCodes(onError.calls), [ErrorCode.InvalidHandler]);
});

Deno.test("WebSocketServer calls onOpen, then onTerminate after the last connection", async () => {
  const calls: string[] = [];
  const recorder = new Recorder();
  await using server = listen({
    onOpen() {
      calls.push("open");
    },
    onConnection: () => recorder,
    onTerminate() {
      calls.push(`terminate after ${recorder.types.join(",")}`);
    },
  });
  const peer = await connect(server.url);
  await recorder.opened();
  await server.wss.terminate();
  assertEquals((await deadline(peer.closed, 5000)).code, 1001);
  assertEquals(calls, ["open", "terminate after open,terminate"]);
  assertEquals(recorder.calls.at(-1)?.event.code, 1001);
});

Deno.test("WebSocketServer gives onConnection the request read before the upgrade", async () => {
  let seen: WSRequest | undefined;
  const recorder = new Recorder();
  await using server = listen({
    async onConnection(_wss, event) {
      await Promise.resolve();
      seen = event.request;
      return recorder;
    },
  }, { path: "/rooms/:room" });
  const socket = new WebSocket(
    `${server.url}/rooms/blue?name=ryan&tag=a&tag=b`,
    {
      headers: [["x-multi", "one"], ["x-multi", "two"], ["X-Case", "Up"]],
    } as unknown as string[],
  );
  await deadline(new Promise((r) => socket.onopen = r), 5000);
  socket.close();
  await recorder.terminated();
  assert(seen);
  assertEquals(seen.url, "/rooms/blue?name=ryan&tag=a&tag=b");
  assertEquals({ ...seen.query }, { name: "ryan", tag: ["a", "b"] });
  assertEquals({ ...seen.params }, { room: "blue" });
  assertEquals(seen.headers["x-multi"], "one, two");
  assertEquals(seen.headers["x-case"], "Up");
  assertEquals(seen.remoteAddress, "127.0.0.1");
  assertStrictEquals(recorder.connection?.request, seen);
});

Deno.test("WebSocketServer chooses the first of its protocols the client offers", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    protocols: ["v2", "v1"],
  });
  const peer = await connect(server.url, ["v1", "v2"]);
  assertEquals(peer.socket.protocol, "v2");
  await recorder.opened();
  assertEquals(recorder.connection?.protocol, "v2");
  await hangUp(peer);
});

Deno.test("WebSocketServer answers 503 past maxConnections", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    maxConnections: 1,
  });
  const peer = await connect(server.url);
  const second = await fetch(`http://127.0.0.1:${server.port}/`, {
    headers: upgradeHeaders(),
  });
  assertEquals(second.status, 503);
  await second.body?.cancel();
  await hangUp(peer);
});

Deno.test("WebSocketServer.connections is fresh and drops a closing connection at once", async () => {
  const recorders = [new Recorder(), new Recorder()];
  let next = 0;
  await using server = listen({ onConnection: () => recorders[next++] });
  const a = await connect(server.url);
  const b = await connect(server.url);
  await recorders[1]?.opened();
  const list = server.wss.connections;
  assertEquals(list.length, 2);
  assertNotStrictEquals(server.wss.connections, list);
  list[0]?.terminate();
  assertEquals(list[0]?.status, "Closing");
  assertEquals(server.wss.connections, [list[1]]);
  await recorders[0]?.terminated();
  assertEquals(list[0]?.status, "Closed");
  await hangUp(a);
  await hangUp(b);
});

Deno.test("WebSocketServer.broadcast() reaches every other open connection", async () => {
  await using server = listen({ onConnection: echo });
  const { wss } = server;
  const peers = [
    await connect(server.url),
    await connect(server.url),
    await connect(server.url),
  ];
  const [first] = wss.connections;
  assertEquals(wss.broadcast({ hi: 1 }, { except: first }), 2);
  await peers[1]?.received(1);
  await peers[2]?.received(1);
  assertEquals(peers[2]?.messages, ['{"hi":1}']);
  // @ts-expect-error: undefined cannot be sent, and does not type-check
  assertThrows(() => wss.broadcast(undefined), TypeError);
  for (const peer of peers) await hangUp(peer);
  assertEquals(peers[0]?.messages, []);
});

Deno.test("WebSocketServer.terminate() cuts a peer that never answers the close", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder });
  const peer = await rawPeer(server.port);
  assertMatch(peer.head, /^HTTP\/1\.1 101/);
  await recorder.opened();
  await server.wss.terminate(0.2);
  assertEquals(recorder.types, ["open", "terminate"]);
  assertEquals(recorder.calls.at(-1)?.event.code, 1006);
  await peer.readToEnd();
  peer.conn.close();
});

Deno.test("WebSocketServer.terminate() through fetch gives up a silent peer with 1006", async () => {
  const recorder = new Recorder();
  await using wss = new WebSocketServer({ onConnection: () => recorder });
  await using server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    wss.fetch,
  );
  const peer = await rawPeer(server.addr.port);
  await recorder.opened();
  await wss.terminate(0.1);
  assertEquals(recorder.types, ["open", "terminate"]);
  assertEquals(recorder.calls.at(-1)?.event.code, 1006);
  assertEquals(wss.connections, []);
  // Deno cannot cut an upgraded socket but by shutting its server down.
  await server.shutdown();
  peer.conn.close();
});

Deno.test("WebSocketServer.terminate() checks its timeout, and a wrong one terminates nothing", async () => {
  await using wss = new WebSocketServer({ onConnection: () => null });
  for (const bad of [-1, Infinity, NaN]) {
    const error = assertThrows(() => wss.terminate(bad), RangeError);
    assertMatch(
      error.message,
      /^Cannot terminate WebSocketServer: timeout is in seconds and must be a number of at least 0 and at most 300 \(five minutes\), current value is /,
    );
  }
  for (const bad of ["1", { timeout: 1 }, null]) {
    assertThrows(
      () => wss.terminate(bad as never),
      TypeError,
      "timeout must be a number",
    );
  }
  assertEquals(wss.terminated, false);
});

Deno.test('WebSocketServer answers a raw "x,v1" offer without spaces', async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    protocols: ["v1"],
  });
  const { port } = server;
  const conn = await rawRequest(
    port,
    upgradeHead(port, "/", { "sec-websocket-protocol": "x,v1" }),
  );
  const head = await readHead(conn);
  assertMatch(head, /^HTTP\/1\.1 101/);
  assertMatch(head, /\r\nsec-websocket-protocol: v1\r\n/i);
  await recorder.opened();
  assertEquals(recorder.connection?.protocol, "v1");
  conn.close();
  await recorder.terminated();
});

Deno.test("WebSocketServer.fetch is bound: one Deno.serve routes pages and sockets", async () => {
  const recorder = new Recorder();
  await using wss = new WebSocketServer({ onConnection: () => recorder }, {
    path: "/ws",
  });
  const { fetch: serveSocket } = wss;
  await using server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (request, info) =>
      wss.handles(request) ? serveSocket(request, info) : new Response("home"),
  );
  const base = `127.0.0.1:${server.addr.port}`;
  const page = await fetch(`http://${base}/`);
  assertEquals(await page.text(), "home");
  const peer = await connect(`ws://${base}/ws`);
  await recorder.opened();
  assertEquals(recorder.connection?.request.remoteAddress, "127.0.0.1");
  await hangUp(peer);
  await recorder.terminated();
});

Deno.test("WebSocketServer: onConnection may refuse with a Response of its own (401, 429), sync or async", async () => {
  const answers: Record<string, () => unknown> = {
    "/login": () =>
      new Response("who are you?", {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="chat"' },
      }),
    "/busy": () =>
      Promise.resolve(
        new Response(null, { status: 429, headers: { "retry-after": "30" } }),
      ),
  };
  const onError = spy(
    (_wss: WebSocketServer, _event: WSServerErrorEvent) => {},
  );
  await using wss = new WebSocketServer({
    onConnection: (_wss, { request }) =>
      answers[request.url]?.() as null ?? new Response("fine", { status: 200 }),
    onError,
  });
  const login = await wss.fetch(upgradeRequest("/login"));
  assertEquals(login.status, 401);
  assertEquals(login.headers.get("www-authenticate"), 'Bearer realm="chat"');
  assertEquals(await login.text(), "who are you?");
  const busy = await wss.fetch(upgradeRequest("/busy"));
  assertEquals(busy.status, 429);
  assertEquals(busy.headers.get("retry-after"), "30");
  await busy.body?.cancel();
  assertEquals(errCodes(onError.calls), []);
  // A Response that is no refusal cannot be followed by a socket: 500.
  const ok = await wss.fetch(upgradeRequest("/other"));
  assertEquals(ok.status, 500);
  await ok.body?.cancel();
  await wss.terminate();
  assertEquals(errCodes(onError.calls), [ErrorCode.InvalidHandler]);
});

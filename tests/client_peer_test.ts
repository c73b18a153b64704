import assert from "node:assert/strict";
import { WebSocketServer as WSServer } from "npm:ws@^8";
import { ErrorCode, WebSocket, type WSClientTerminateEvent } from "../mod.ts";
import { deadline } from "./_helpers.ts";

/** What the tests use of npm:ws's socket and request (it ships no types). */
interface PeerSocket {
  on(event: string, listener: (...args: never[]) => void): void;
  send(data: Uint8Array | string, options?: { binary: boolean }): void;
  close(code: number, reason: string): void;
}
interface PeerRequest {
  headers: Record<string, string | string[] | undefined>;
}

/** An npm:ws server on a free loopback port that echoes and obeys commands. */
async function wsServer() {
  const server = new WSServer({
    host: "127.0.0.1",
    port: 0,
    handleProtocols: (offered: Set<string>) =>
      offered.has("chat") ? "chat" : false,
  });
  await deadline(
    new Promise<void>((resolve) => server.once("listening", () => resolve())),
    "npm:ws listening",
  );
  const headers: Record<string, string | string[] | undefined>[] = [];
  const closes: number[] = [];
  server.on("connection", (socket: PeerSocket, request: PeerRequest) => {
    headers.push(request.headers);
    socket.on("close", (code: number) => closes.push(code));
    socket.on("message", (data: Uint8Array, isBinary: boolean) => {
      const text = isBinary ? "" : new TextDecoder().decode(data);
      if (text === "close 4005") socket.close(4005, "asked");
      else if (text === "bad json") socket.send("{nope");
      else socket.send(data, { binary: isBinary });
    });
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    headers,
    closes,
    async [Symbol.asyncDispose]() {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function client(url: string, dataType: "text" | "blob" | "object", more = {}) {
  const messages: unknown[] = [];
  const types: string[] = [];
  const errors: number[] = [];
  const ended = Promise.withResolvers<WSClientTerminateEvent>();
  const got = { count: 0, resolve: () => {} };
  const ws = new WebSocket(url, {
    dataType,
    ...more,
    onOpen: () => void types.push("open"),
    onMessage(_ws, event) {
      types.push("message");
      messages.push(
        event.data instanceof Uint8Array ? [...event.data] : event.data,
      );
      if (messages.length === got.count) got.resolve();
    },
    onError(_ws, event) {
      types.push("error");
      errors.push(...event.errors.map((e) => e.errCode));
    },
    onTerminate(_ws, event) {
      types.push("terminate");
      ended.resolve(event);
    },
  });
  return {
    ws,
    messages,
    types,
    errors,
    ended: () => deadline(ended.promise, "onTerminate"),
    received(count: number) {
      const { promise, resolve } = Promise.withResolvers<void>();
      Object.assign(got, { count, resolve });
      if (messages.length >= count) resolve();
      return deadline(promise, `${count} messages`);
    },
  };
}

Deno.test("WebSocket against npm:ws: round trips and cross conversions", async () => {
  await using server = await wsServer();
  const expected = {
    text: ["hi", "{}", "[1]"],
    blob: [[104, 105], [123, 125], [91, 49, 93]],
    object: [{ a: 1 }, {}, [1]],
  } as const;
  for (const dataType of ["text", "blob", "object"] as const) {
    const c = client(server.url, dataType);
    c.ws.send(dataType === "object" ? { a: 1 } : "hi");
    c.ws.send(new TextEncoder().encode("{}"));
    c.ws.send([1]);
    await c.received(3);
    assert.deepEqual(c.messages, expected[dataType]);
    c.ws.terminate(4000);
    assert.equal((await c.ended()).code, 4000);
  }
  // The end code is the server's echo of ours; its own close event may lag.
  assert.ok(server.closes.every((code) => code === 4000));
});

Deno.test("WebSocket against npm:ws: headers, Cookie, repeated header, subprotocol", async () => {
  await using server = await wsServer();
  const c = client(server.url, "text", {
    headers: { cookie: "s=1", "x-r": ["a", "b"] },
    protocols: ["other", "chat"],
  });
  c.ws.send("ping");
  await c.received(1);
  assert.equal(c.ws.protocol, "chat");
  assert.equal(server.headers[0]?.cookie, "s=1");
  assert.equal(server.headers[0]?.["x-r"], "a, b");
  c.ws.terminate();
  await c.ended();
});

Deno.test("WebSocket against npm:ws: the server's close code, and invalid JSON", async () => {
  await using server = await wsServer();
  const a = client(server.url, "text");
  a.ws.send("close 4005");
  const end = await a.ended();
  assert.deepEqual([end.code, end.reason, end.wasClean], [4005, "asked", true]);
  const b = client(server.url, "object");
  b.ws.send("bad json");
  assert.equal((await b.ended()).code, 1000);
  assert.deepEqual(b.types, ["open", "error", "terminate"]);
  assert.deepEqual(b.errors, [ErrorCode.InvalidJSON]);
});

Deno.test("WebSocket against npm:ws: a server that cuts the TCP gives 1006", async () => {
  await using server = await wsServer();
  const c = client(server.url, "text");
  c.ws.send("x");
  await c.received(1);
  // Cut every socket without a close frame.
  await deadline(
    new Promise<void>((resolve) => {
      const ws = server as unknown as {
        [Symbol.asyncDispose](): Promise<void>;
      };
      ws[Symbol.asyncDispose]().then(resolve);
    }),
    "npm:ws close",
  );
  const end = await c.ended();
  assert.equal(end.code, 1006);
  assert.equal(end.wasClean, false);
});

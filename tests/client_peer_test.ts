import { assert, assertEquals } from "@std/assert";
import { deadline } from "@std/async";
import { WebSocketServer as WSServer } from "npm:ws@^8";
import { ErrorCode, WebSocket } from "../mod.ts";
import { ClientRecorder } from "./_helpers.ts";

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
    5000,
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

/** The data of each message, bytes as arrays of numbers. */
function plain(messages: unknown[]): unknown[] {
  return messages.map((m) => m instanceof Uint8Array ? [...m] : m);
}

Deno.test("WebSocket against npm:ws: round trips and cross conversions", async () => {
  await using server = await wsServer();
  const expected = {
    text: ["hi", "{}", "[1]"],
    blob: [[104, 105], [123, 125], [91, 49, 93]],
    object: [{ a: 1 }, {}, [1]],
  } as const;
  for (const dataType of ["text", "blob", "object"] as const) {
    const log = new ClientRecorder({ dataType });
    const ws = new WebSocket(server.url, log);
    ws.send(dataType === "object" ? { a: 1 } : "hi");
    ws.send(new TextEncoder().encode("{}"));
    ws.send([1]);
    await log.received(3);
    assertEquals<unknown>(plain(log.messages), expected[dataType]);
    ws.terminate(4000);
    assertEquals((await log.terminated()).code, 4000);
  }
  // The end code is the server's echo of ours; its own close event may lag.
  assert(server.closes.every((code) => code === 4000));
});

Deno.test("WebSocket against npm:ws: headers, Cookie, repeated header, subprotocol", async () => {
  await using server = await wsServer();
  const log = new ClientRecorder({
    dataType: "text",
    headers: { cookie: "s=1", "x-r": ["a", "b"] },
    protocols: ["other", "chat"],
  });
  const ws = new WebSocket(server.url, log);
  ws.send("ping");
  await log.received(1);
  assertEquals(ws.protocol, "chat");
  assertEquals(server.headers[0]?.cookie, "s=1");
  assertEquals(server.headers[0]?.["x-r"], "a, b");
  ws.terminate();
  await log.terminated();
});

Deno.test("WebSocket against npm:ws: the server's close code, and invalid JSON", async () => {
  await using server = await wsServer();
  const a = new ClientRecorder({ dataType: "text" });
  new WebSocket(server.url, a).send("close 4005");
  const end = await a.terminated();
  assertEquals([end.code, end.reason, end.wasClean], [4005, "asked", true]);
  const b = new ClientRecorder({ dataType: "object" });
  new WebSocket(server.url, b).send("bad json");
  assertEquals((await b.terminated()).code, 1000);
  assertEquals(b.types, ["open", "error", "terminate"]);
  assertEquals(b.errors.map((e) => e.errCode), [ErrorCode.InvalidJSON]);
});

Deno.test("WebSocket against npm:ws: a server that cuts the TCP gives 1006", async () => {
  await using server = await wsServer();
  const log = new ClientRecorder({ dataType: "text" });
  new WebSocket(server.url, log).send("x");
  await log.received(1);
  // Cut every socket without a close frame.
  await deadline(server[Symbol.asyncDispose](), 5000);
  const end = await log.terminated();
  assertEquals(end.code, 1006);
  assertEquals(end.wasClean, false);
});

/**
 * The context of the request (issue #24, SPEC.md "Changed in version 3"):
 * what the caller of `wss.fetch(request, info, { context })` gives reaches
 * `onConnection`'s `event.context` and stays as `conn.context`; the headers
 * `onConnection` puts in `event.responseHeaders` go out on the 101 answer,
 * but the handshake's own. Real sockets on loopback.
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
import { deadline } from "@std/async";
import {
  WebSocket,
  type WebSocketConnection,
  WebSocketServer,
  type WSConnectionHandler,
  type WSServerConnectionEvent,
} from "../mod.ts";
import { rawRequest, readHead, upgradeHead } from "../testkit/raw_peer.ts";

interface User {
  readonly name: string;
}

/** A connection handler that greets its user by the connection's context. */
class Greeter implements WSConnectionHandler<"text", Greeter, User> {
  onOpen(ws: WebSocketConnection<Greeter, "text", User>) {
    ws.send(`hello ${ws.context.name}`);
  }
  onMessage() {}
}

/** Mounts `wss` in a `Deno.serve` on a free port, as a framework would. */
function mount(
  handler: Deno.ServeHandler<Deno.NetAddr>,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    handler,
  );
}

Deno.test("context: fetch's context reaches onConnection's event and stays as conn.context, the same object", async () => {
  const seen: unknown[] = [];
  await using wss = new WebSocketServer({
    onConnection: (_wss, event: WSServerConnectionEvent<User>) => {
      seen.push(event.context);
      return new Greeter();
    },
  });
  const ada: User = { name: "ada" };
  await using server = mount((request, info) =>
    wss.fetch(request, info, { context: ada })
  );
  const greeting = Promise.withResolvers<unknown>();
  const closed = Promise.withResolvers<void>();
  const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`, {
    onMessage: (_ws, event) => greeting.resolve(event.data),
    onTerminate: () => closed.resolve(),
  });
  try {
    assertEquals(await deadline(greeting.promise, 5000), "hello ada");
    assertEquals(seen.length, 1);
    assertStrictEquals(seen[0], ada);
    const [conn] = wss.connections;
    assert(conn !== undefined);
    assertStrictEquals(conn.context, ada);
    assertEquals(conn.request.url, "/");
  } finally {
    ws.terminate();
    await deadline(closed.promise, 5000);
  }
});

Deno.test("context: a different context per request, and undefined where fetch gets none", async () => {
  const names: unknown[] = [];
  await using wss = new WebSocketServer({
    onConnection: (_wss, event) => {
      names.push(event.context);
      return {
        context: event.context,
        onOpen(ws) {
          ws.send(String(this.context === ws.context));
        },
        onMessage() {},
      };
    },
  });
  let count = 0;
  await using server = mount((request, info) =>
    ++count === 1 ? wss.fetch(request, info) : wss.fetch(request, info, {
      context: `user-${count}`,
    })
  );
  for (const expected of [undefined, "user-2"]) {
    const said = Promise.withResolvers<unknown>();
    const closed = Promise.withResolvers<void>();
    const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`, {
      onMessage: (_ws, event) => said.resolve(event.data),
      onTerminate: () => closed.resolve(),
    });
    try {
      assertEquals(await deadline(said.promise, 5000), "true");
      assertEquals(names.at(-1), expected);
    } finally {
      ws.terminate();
      await deadline(closed.promise, 5000);
    }
  }
  assertEquals(names, [undefined, "user-2"]);
});

/** Reads the 101 (or refusal) head of a raw upgrade to `port`. */
async function headOf(port: number, path = "/"): Promise<string> {
  const conn = await rawRequest(port, upgradeHead(port, path));
  try {
    return await readHead(conn);
  } finally {
    conn.close();
  }
}

Deno.test("responseHeaders: onConnection's headers go out on the 101 answer, two Set-Cookie apart, the handshake's own untouched", async () => {
  await using wss = new WebSocketServer({
    onConnection: async (_wss, event) => {
      await Promise.resolve();
      event.responseHeaders.append("set-cookie", "session=abc; HttpOnly");
      event.responseHeaders.append("set-cookie", "theme=dark");
      event.responseHeaders.set("x-trace-id", "trace-1");
      // The handshake's own are the server's: these are not taken.
      event.responseHeaders.set("sec-websocket-accept", "forged");
      event.responseHeaders.set("upgrade", "h2c");
      return { onMessage() {} };
    },
  }, { port: 0, hostname: "127.0.0.1" });
  const head = (await headOf(wss.addr?.port ?? 0)).toLowerCase();
  assertMatch(head, /^http\/1\.1 101 /);
  assertMatch(head, /\r\nset-cookie: session=abc; httponly\r\n/);
  assertMatch(head, /\r\nset-cookie: theme=dark\r\n/);
  assertMatch(head, /\r\nx-trace-id: trace-1\r\n/);
  assertMatch(head, /\r\nupgrade: websocket\r\n/);
  assertEquals(head.includes("forged"), false);
  assertEquals(head.includes("h2c"), false);
  assertEquals(head.match(/sec-websocket-accept:/g)?.length, 1);
});

Deno.test("responseHeaders: a refusal answers without them", async () => {
  await using wss = new WebSocketServer({
    onConnection: (_wss, event) => {
      event.responseHeaders.set("x-trace-id", "trace-2");
      return null;
    },
  }, { port: 0, hostname: "127.0.0.1" });
  const head = (await headOf(wss.addr?.port ?? 0)).toLowerCase();
  assertMatch(head, /^http\/1\.1 403 /);
  assertEquals(head.includes("trace-2"), false);
});

Deno.test("fetch: a request that is not the runtime's own Request is a TypeError", async () => {
  await using wss = new WebSocketServer({ onConnection: () => null });
  assertThrows(
    () =>
      wss.fetch({
        url: "http://localhost/",
        method: "GET",
        headers: new Headers(),
      }),
    TypeError,
    "Cannot handle request: request must be the runtime's own Request",
  );
});

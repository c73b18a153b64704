/**
 * The types of issue #24, checked by `deno check` (SPEC.md, "Types"): an
 * `onConnection` with parameters (arrow or method, sync or async) still
 * types `this` and `.handler` by the object literal it returns; a server
 * handler with its own fields; a class server handler; `ws.wss` keeps the
 * connections' type; `dataType: objectOf<T>()` names the message type once;
 * what `send` cannot send does not type-check; the context of `fetch` is
 * typed from `onConnection`'s event. Every `@ts-expect-error` line must stay
 * an error (an unused directive fails `deno check`). The functions are
 * checked, never called; the tests at the end count the directives.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import {
  objectOf,
  WebSocket,
  type WebSocketConnection,
  WebSocketServer,
  type WSClientHandler,
  type WSConnectionHandler,
  type WSMessageEvent,
  type WSObjectOf,
  type WSServerConnectionEvent,
  type WSServerHandler,
  type WSServerOf,
} from "../mod.ts";

/** `onConnection` as an arrow with parameters: `this` is the literal. */
export function arrowWithParameters(): string[] {
  const wss = new WebSocketServer({
    onConnection: (_wss, event) => ({
      who: event.request.url,
      onMessage(ws) {
        ws.send(this.who);
        const who: string = this.who;
        // @ts-expect-error: the literal has no such member
        this.missing;
        return who;
      },
    }),
  });
  return wss.connections.map((ws) => ws.handler.who);
}

/** `onConnection` as a method with parameters. */
export function methodWithParameters(): number[] {
  const wss = new WebSocketServer({
    onConnection(_wss, event) {
      return {
        size: event.request.url.length,
        onMessage(ws, message) {
          this.size += message.data.length;
          ws.send(this.size);
        },
      };
    },
  });
  return wss.connections.map((ws) => ws.handler.size);
}

/** Async, arrow and method, with and without parameters. */
export function asyncOnConnection(): unknown[] {
  const arrow = new WebSocketServer({
    onConnection: async (_wss, event) => {
      await Promise.resolve();
      return {
        path: event.request.url,
        onMessage(ws) {
          ws.send(this.path);
        },
      };
    },
  });
  const method = new WebSocketServer({
    async onConnection() {
      await Promise.resolve();
      return Math.random() > 0.5 ? null : {
        count: 0,
        onMessage() {
          this.count++;
        },
      };
    },
  });
  const paths: string[] = arrow.connections.map((ws) => ws.handler.path);
  const counts: number[] = method.connections.map((ws) => ws.handler.count);
  return [paths, counts];
}

/** Refusals beside the literal, with parameters: the literal still types. */
export function refusalsWithParameters(): unknown[] {
  const arrow = new WebSocketServer({
    // deno-lint-ignore require-await -- the case is an async onConnection
    onConnection: async (_wss, event) => {
      if (event.request.url === "/") {
        return new Response(null, { status: 401 });
      }
      return {
        n: 1,
        onMessage(ws) {
          this.n++;
          ws.send(this.n);
        },
      };
    },
  });
  const method = new WebSocketServer({
    onConnection(_wss, event) {
      return event.request.url === "/" ? null : {
        tag: "x",
        onMessage() {
          // `return this.tag` would make the literal's type circular.
          const tag: string = this.tag;
          return tag;
        },
      };
    },
  }, { dataType: "blob" });
  const ns: number[] = arrow.connections.map((ws) => ws.handler.n);
  const tags: string[] = method.connections.map((ws) => ws.handler.tag);
  return [ns, tags];
}

/** A server handler with its own fields: `this` and `wss.handler`. */
export function serverOwnFields(): Set<string> {
  const wss = new WebSocketServer({
    rooms: new Set<string>(),
    greeting: "hello",
    onConnection(_wss, event) {
      this.rooms.add(event.request.params.room ?? "lobby");
      // @ts-expect-error: the server handler has no such member
      this.missing;
      return { onMessage: (ws) => ws.send(this.greeting) };
    },
    onOpen() {
      this.rooms.clear();
    },
  }, { path: "/rooms/:room" });
  const rooms: Set<string> = wss.handler.rooms;
  const greeting: string = wss.handler.greeting;
  assertEquals(typeof greeting, "string");
  return rooms;
}

/** A connection handler's callback in another case does not type-check. */
export function miscasedConnectionHandler(): void {
  new WebSocketServer({
    onConnection: () => ({
      onMessage() {},
      // @ts-expect-error: onterminate is no callback (onTerminate is)
      onterminate() {},
    }),
  });
  new WebSocketServer({
    onConnection: (_wss, _event) => ({
      onMessage() {},
      // @ts-expect-error: OnOpen is no callback (onOpen is)
      OnOpen() {},
    }),
  });
}

/** 4D's `.new()` infers as `new` does, on the server and the client. */
export function fourDNew(): unknown[] {
  const wss = WebSocketServer.new({
    rooms: new Set<string>(),
    onConnection(_wss, event) {
      this.rooms.add(event.request.url);
      return {
        who: "guest",
        onMessage(ws) {
          ws.send(this.who);
        },
      };
    },
  });
  const ws = WebSocket.new("ws://127.0.0.1:9/", {
    seen: 0,
    onMessage() {
      this.seen++;
    },
  });
  const rooms: Set<string> = wss.handler.rooms;
  const who: string[] = wss.connections.map((conn) => conn.handler.who);
  const seen: number = ws.handler.seen;
  return [rooms, who, seen];
}

/** The connection handler of the lobby, a class. */
class Member implements WSConnectionHandler<"text", Member> {
  name = "guest";
  onMessage(ws: WebSocketConnection<Member, "text">, event: WSMessageEvent) {
    // 4D's chat: the loop over `connections` sees `Member`s.
    for (const other of ws.wss.connections) {
      if (other.id !== ws.id) other.send(`${ws.handler.name}: ${event.data}`);
      const name: string = other.handler.name;
      // @ts-expect-error: a Member has no such member
      other.handler.missing;
      assert(name);
    }
  }
}

/** A server handler written as a class. */
class Lobby implements WSServerHandler<"text", Member> {
  rooms = new Set<string>();
  onConnection(_wss: WSServerOf<"text">, event: WSServerConnectionEvent) {
    this.rooms.add(event.request.url);
    return new Member();
  }
}

/** `new WebSocketServer(new Lobby())`: its handler and connections typed. */
export function classServer(): string[] {
  const wss = new WebSocketServer(new Lobby());
  const rooms: Set<string> = wss.handler.rooms;
  assert(rooms);
  return wss.connections.map((ws) => ws.handler.name);
}

/**
 * The 4D loop in an object literal: TypeScript cannot type `ws` by the
 * literal it is written in, so name the handler's type on `ws`, once.
 */
interface Chatter {
  readonly name: string;
}
export function chatLoopInLiteral(): void {
  new WebSocketServer({
    onConnection: (_wss, event) => ({
      name: String(event.request.query.name ?? "guest"),
      onMessage(ws: WebSocketConnection<Chatter>, message) {
        for (const other of ws.wss.connections) {
          other.send(`${ws.handler.name} to ${other.handler.name}`);
        }
        return message.data;
      },
    }),
  });
}

/** `WSMessageEvent<D>` for a data type types `data` by it. */
export function messageEvents(
  text: WSMessageEvent<"text">,
  blob: WSMessageEvent<"blob">,
  json: WSMessageEvent<"object">,
  chat: WSMessageEvent<WSObjectOf<{ text: string }>>,
  own: WSMessageEvent<number>,
): unknown[] {
  const a: string = text.data;
  const b: Uint8Array = blob.data;
  // @ts-expect-error: under "object" the data is unknown, not "object"
  const c: "object" = json.data;
  // @ts-expect-error: nor a string
  const d: string = json.data;
  const e: string = chat.data.text;
  const f: number = own.data;
  return [a, b, c, d, e, f];
}

/** `dataType: objectOf<T>()` names the message type once, for a server. */
interface ChatMessage {
  readonly from: string;
  readonly text: string;
}
export function objectServer(): void {
  new WebSocketServer({
    onConnection: (_wss, _event) => ({
      onMessage(ws, event) {
        const from: string = event.data.from;
        // @ts-expect-error: a ChatMessage has no such member
        event.data.missing;
        ws.send({ echo: event.data.text, from });
      },
      onOpen(ws) {
        ws.send("hello");
      },
    }),
  }, { dataType: objectOf<ChatMessage>() });
}

/** ... and for a client, in its handler. */
export function objectClient(): ChatMessage[] {
  const ws = new WebSocket("ws://127.0.0.1:9/", {
    dataType: objectOf<ChatMessage>(),
    seen: [] as ChatMessage[],
    onMessage(_ws, event) {
      this.seen.push(event.data);
      const text: string = event.data.text;
      // @ts-expect-error: a ChatMessage is no number
      const wrong: number = event.data;
      return [text, wrong];
    },
  });
  return ws.handler.seen;
}

/** A client class handler with `objectOf`'s type. */
class Reader implements WSClientHandler<WSObjectOf<ChatMessage>, Reader> {
  readonly dataType = objectOf<ChatMessage>();
  last = "";
  onMessage(
    _ws: WebSocket<Reader, WSObjectOf<ChatMessage>>,
    event: WSMessageEvent<ChatMessage>,
  ) {
    this.last = event.data.text;
  }
}
export function readerClient(): string {
  return new WebSocket("ws://127.0.0.1:9/", new Reader()).handler.last;
}

/** What `send` and `broadcast` cannot send does not type-check. */
export function sendables(
  ws: WebSocketConnection,
  client: WebSocket,
  wss: WebSocketServer,
  anything: unknown,
  maybe: string | undefined,
): void {
  ws.send("text");
  ws.send(new Uint8Array(2));
  ws.send(new ArrayBuffer(2));
  ws.send(new Blob(["x"]));
  ws.send({ nested: [1, "two", null, { three: true }], skipped: undefined });
  ws.send(anything);
  ws.send(null);
  ws.send(0);
  client.send([1, 2]);
  wss.broadcast({ hello: "all" });
  // @ts-expect-error: undefined
  ws.send(undefined);
  // @ts-expect-error: maybe undefined
  ws.send(maybe);
  // @ts-expect-error: a function
  ws.send(() => 1);
  // @ts-expect-error: a symbol
  ws.send(Symbol("s"));
  // @ts-expect-error: a bigint
  ws.send(1n);
  // @ts-expect-error: undefined, from the client
  client.send(undefined);
  // @ts-expect-error: a function, from the client
  client.send(readerClient);
  // @ts-expect-error: undefined, to all
  wss.broadcast(undefined);
  // @ts-expect-error: a bigint, to all
  wss.broadcast(2n);
}

/** The context: named once on the event, then typed everywhere. */
interface User {
  readonly name: string;
  readonly admin: boolean;
}
export function context(request: Request, user: User): unknown[] {
  const wss = new WebSocketServer({
    onConnection: (_wss, event: WSServerConnectionEvent<User>) => {
      event.responseHeaders.append("set-cookie", `seen=${event.context.name}`);
      return {
        user: event.context,
        onMessage(ws) {
          ws.send(`${this.user.name}: hello`);
        },
      };
    },
  });
  const answer = wss.fetch(request, undefined, { context: user });
  // @ts-expect-error: the context is a User
  wss.fetch(request, undefined, { context: { name: 1 } });
  // @ts-expect-error: a server that names a context needs it
  wss.fetch(request);
  // @ts-expect-error: so it is no plain Deno handler
  Deno.serve({ port: 0 }, wss.fetch);
  const names: string[] = wss.connections.map((ws) => ws.context.name);
  const admins: boolean[] = wss.connections.map((ws) => ws.handler.user.admin);
  return [answer, names, admins];
}

/**
 * `ws.context` in a class handler: the class names the context. (In an
 * object literal, `ws.context` is `unknown`: keep `event.context` on the
 * literal, as `context` above does, and read `this.user`.)
 */
class Guest implements WSConnectionHandler<"text", Guest, User> {
  onMessage(ws: WebSocketConnection<Guest, "text", User>) {
    ws.send(ws.context.name);
  }
}
export function contextInHandlers(request: Request, user: User): unknown[] {
  const literal = new WebSocketServer({
    onConnection: (_wss, _event: WSServerConnectionEvent<User>) => ({
      onMessage(ws) {
        // @ts-expect-error: unknown in a literal's callback
        ws.context.admin;
      },
    }),
  });
  const classes = new WebSocketServer({
    onConnection: (_wss, _event: WSServerConnectionEvent<User>) => new Guest(),
  });
  return [
    literal.fetch(request, undefined, { context: user }),
    classes.fetch(request, undefined, { context: user }),
    classes.connections.map((ws) => ws.context.admin),
  ];
}

/** A plain server takes `fetch` with or without a context. */
export function plainContext(request: Request): unknown[] {
  const wss = new WebSocketServer({
    onConnection: (_wss, event) => ({
      onMessage(ws) {
        ws.send(String(event.context));
      },
    }),
  });
  const handler: Deno.ServeHandler = wss.fetch;
  const contexts: unknown[] = wss.connections.map((ws) => ws.context);
  return [
    handler,
    wss.fetch(request),
    wss.fetch(request, undefined, { context: 42 }),
    contexts,
  ];
}

/**
 * `info` is read by its shape: what `Deno.serve` and frameworks give passes
 * as it is (Hono's `c.env` is `unknown` where no `Bindings` are declared).
 */
export function infoShapes(
  wss: WebSocketServer,
  request: Request,
  deno: Deno.ServeHandlerInfo<Deno.Addr>,
  honoEnv: unknown,
  empty: Record<string, never>,
): unknown[] {
  return [
    wss.fetch(request, deno),
    wss.fetch(request, honoEnv),
    wss.fetch(request, empty),
    wss.fetch(request, undefined),
  ];
}

Deno.test("types: every @ts-expect-error of the type tests is there", async () => {
  // The directives are what `deno check` proves; this counts them, so that
  // one deleted with its case is seen.
  let count = 0;
  for (const file of ["types_test.ts", "types_more_test.ts"]) {
    const text = await Deno.readTextFile(new URL(file, import.meta.url));
    count += text.split("\n").filter((line) =>
      line.trimStart().startsWith("// @ts-expect-error")
    ).length;
  }
  assertEquals(count, 31);
});

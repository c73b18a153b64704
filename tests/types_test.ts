/**
 * The public types (SPEC.md, "Types"), checked by `deno check`: handlers
 * written as object literals and classes have their own type for `this` and
 * `.handler`, `event.data` is typed by `dataType`, `errCode` is a union a
 * `switch` can exhaust. Every `@ts-expect-error` line must stay an error: if
 * the types grew loose, `deno check` would fail on the unused directive.
 * The cases of issue #24 (parameters, own fields, context, `send`) are in
 * `tests/types_more_test.ts`.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import {
  type DataType,
  ErrorCode,
  WebSocket,
  type WebSocketConnection,
  WebSocketServer,
  type WSClientHandler,
  type WSConnectionHandler,
  type WSError,
  type WSMessageEvent,
} from "../mod.ts";

// Type-level tests: the functions below are checked, never called.

/** An object-literal connection handler: `this` is the literal. */
export function serverObjectLiteral(): WebSocketServer {
  const wss = new WebSocketServer({
    onConnection: () => ({
      count: 0,
      onMessage(ws, event) {
        this.count++;
        const text: string = event.data; // "text" by default
        ws.send(text);
        ws.wss.broadcast(text, { except: ws });
        // @ts-expect-error: the handler has no such member
        this.missing;
        // @ts-expect-error: under "text" the data is a string
        const wrong: number = event.data;
        return wrong;
      },
    }),
  });
  // The connections' handlers are the literal's type.
  const first = wss.connections[0];
  if (first !== undefined) {
    const count: number = first.handler.count;
    assertEquals(typeof count, "number");
  }
  return wss;
}

/** `event.data` follows the server's `dataType`. */
export function serverDataTypes(): void {
  new WebSocketServer({
    onConnection: () => ({
      onMessage(_ws, event) {
        const bytes: Uint8Array = event.data;
        // @ts-expect-error: under "blob" the data is bytes
        const text: string = event.data;
        return [bytes, text];
      },
    }),
  }, { dataType: "blob" });
  new WebSocketServer({
    onConnection: () => ({
      onMessage(_ws, event) {
        const value: unknown = event.data;
        // @ts-expect-error: under "object" the data is unknown until checked
        const text: string = event.data;
        return [value, text];
      },
    }),
  }, { dataType: "object" });
}

/** A class handler: `this` and `ws.handler` are the class. */
class Counter implements WSConnectionHandler<"text", Counter> {
  count = 0;
  onMessage(
    ws: WebSocketConnection<Counter, "text">,
    event: WSMessageEvent<string>,
  ) {
    this.count++;
    ws.handler.count++;
    ws.send(event.data.length);
  }
}

/** A class handler and `wss.connections[i].handler`. */
export function serverClass(): WebSocketServer {
  const wss = new WebSocketServer({ onConnection: () => new Counter() });
  const counts: number[] = wss.connections.map((ws) => ws.handler.count);
  assert(Array.isArray(counts));
  // A typed server is still a plain WebSocketServer.
  return wss;
}

/** Refusals: null, a Response, a promise of either. */
export function serverRefusals(): void {
  new WebSocketServer({ onConnection: () => null });
  new WebSocketServer({
    onConnection: () => new Response(null, { status: 401 }),
  });
  new WebSocketServer({
    onConnection: () =>
      Promise.resolve(
        Math.random() > 0.5 ? null : {
          onMessage: (ws: WebSocketConnection, event: WSMessageEvent) =>
            ws.send(event.data),
        },
      ),
  });
  // @ts-expect-error: a connection handler needs onMessage
  new WebSocketServer({ onConnection: () => ({ onOpen() {} }) });
}

/** The client: `this`, `ws.handler` and `event.data` from the literal. */
export function clientObjectLiteral(): WebSocket<unknown, DataType> {
  const ws = new WebSocket("ws://127.0.0.1:9/", {
    received: 0,
    dataType: "blob",
    onMessage(ws, event) {
      this.received++;
      ws.handler.received++;
      const bytes: Uint8Array = event.data;
      // @ts-expect-error: the handler has no such member
      this.missing;
      // @ts-expect-error: under "blob" the data is bytes
      const text: string = event.data;
      return [bytes, text];
    },
  });
  const received: number = ws.handler.received;
  assertEquals(typeof received, "number");
  new WebSocket("ws://127.0.0.1:9/", {
    onMessage(_ws, event) {
      const text: string = event.data; // "text" by default
      return text;
    },
  });
  // @ts-expect-error: not a data type
  new WebSocket("ws://127.0.0.1:9/", { dataType: "json" });
  return ws;
}

/** A client handler written as a class. */
class Listener implements WSClientHandler<"object", Listener> {
  readonly dataType = "object";
  seen: unknown[] = [];
  onMessage(ws: WebSocket<Listener, "object">, event: WSMessageEvent<unknown>) {
    this.seen.push(event.data);
    ws.handler.seen.length;
  }
}

/** The class's own type comes back from `ws.handler`. */
export function clientClass(): unknown[] {
  const ws = new WebSocket("ws://127.0.0.1:9/", new Listener());
  return ws.handler.seen;
}

/** An exhaustive switch over `errCode`. */
export function describeError(error: WSError): string {
  switch (error.errCode) {
    case ErrorCode.CallbackFailed:
      return "callback";
    case ErrorCode.InvalidUTF8:
    case ErrorCode.InvalidJSON:
    case ErrorCode.MessageTooLarge:
      return "data";
    case ErrorCode.ConnectionFailed:
    case ErrorCode.InvalidHandler:
    case ErrorCode.ConnectionRefused:
    case ErrorCode.MessagesDropped:
    case ErrorCode.SlowConsumer:
    case ErrorCode.BackplaneFailed:
    case ErrorCode.ProtocolError:
    case ErrorCode.RateLimited:
      return "other";
    default: {
      const none: never = error.errCode;
      return none;
    }
  }
}

Deno.test("types: an exhaustive switch over errCode covers every ErrorCode", () => {
  for (const errCode of Object.values(ErrorCode)) {
    const kind = describeError({
      errCode,
      message: "",
      componentSignature: "ws4d",
    });
    assert(["callback", "data", "other"].includes(kind));
  }
  const wrong: WSError = {
    // @ts-expect-error: 999 is no ErrorCode
    errCode: 999,
    message: "",
    componentSignature: "ws4d",
  };
  assertEquals(wrong.errCode, 999);
});

Deno.test("types: each exports entry passes deno doc --lint alone", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ) as { exports: Record<string, string> };
  for (const [entry, file] of Object.entries(config.exports)) {
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["doc", "--lint", file],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "null",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stderr);
    assert(success, `${entry} (${file}): ${text.slice(-2000)}`);
  }
});

/** Typed servers, connections and clients still fit the plain types. */
export function plainUse(): unknown[] {
  const client: WebSocket = new WebSocket("ws://127.0.0.1:9/", {
    dataType: "blob",
    seen: 0,
    onMessage() {
      this.seen++;
    },
  });
  const server: WebSocketServer = new WebSocketServer({
    onConnection: () => new Counter(),
  });
  // A server of any data type, any handler: the first two parameters.
  const blobs: WebSocketServer<unknown, DataType> = new WebSocketServer({
    onConnection: () => ({ onMessage() {} }),
  }, { dataType: "blob" });
  const kept: WebSocketConnection[] = [];
  new WebSocketServer({
    onConnection: () => ({
      onMessage(ws) {
        kept.push(ws);
      },
    }),
  });
  return [client, server, blobs, kept];
}

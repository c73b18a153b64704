/**
 * The chat of the 4D documentation's WebSocketServer example, on ws4d.
 *
 * - `deno task serve` runs `serve.ts`, which listens on `PORT` (default 8000).
 * - `deno serve examples/chat/main.ts` and Deno Deploy: `export default { fetch }`.
 *
 * @module
 */
import { closeOnSignals } from "./signals.ts";
import {
  type WebSocketConnection,
  WebSocketServer,
  type WSConnectionHandler,
  type WSMessageEvent,
} from "../../mod.ts";

const PAGE = await Deno.readTextFile(new URL("./index.html", import.meta.url));

/** 4D's `myConnectionHandler`: one per client. */
class ChatHandler implements WSConnectionHandler {
  onOpen(ws: WebSocketConnection): void {
    ws.send("Welcome on the chat!");
    this.#toOthers(ws, "New client connected");
  }

  onMessage(ws: WebSocketConnection, event: WSMessageEvent): void {
    this.#toOthers(ws, event.data);
  }

  onTerminate(ws: WebSocketConnection): void {
    this.#toOthers(ws, "Client disconnected");
  }

  /**
   * "Resend the message to all the other clients". The 4D loop works as is:
   * `for (const other of ws.wss.connections) if (other.id !== ws.id) other.send(message)`;
   * `broadcast` encodes the message once for all of them.
   */
  #toOthers(ws: WebSocketConnection, message: unknown): void {
    ws.wss.broadcast(message, { except: ws });
  }
}

/** The chat's WebSocket server, at `/ws`. */
export const wss = new WebSocketServer({
  onConnection: () => new ChatHandler(),
}, { path: "/ws" });

/** Serves the page at `/` and the chat's WebSocket at `/ws`. */
export function fetch(
  request: Request,
  info?: Deno.ServeHandlerInfo,
): Response | Promise<Response> {
  if (wss.handles(request)) return wss.fetch(request, info);
  const { pathname } = new URL(request.url);
  if (pathname === "/" || pathname === "/index.html") {
    return new Response(PAGE, {
      headers: { "content-type": "text/html; charset=utf-8" },
    });
  }
  return new Response("Not Found", { status: 404 });
}

// Under `deno serve` (and Deno Deploy) the runtime owns the listener.
if (Deno.env.get("DENO_SERVE_ADDRESS") !== undefined) closeOnSignals(wss);

export default { fetch };

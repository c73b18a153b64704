/**
 * The chat of the 4D documentation's WebSocketServer example, on ws4d.
 *
 * - `deno task serve` runs `serve.ts`, which listens on `PORT` (default 8000).
 * - `deno serve examples/chat/main.ts` and Deno Deploy: `export default { fetch }`.
 *
 * @module
 */
import { closeOnSignals } from "./signals.ts";
import { ChatHandler } from "./chat.ts";
import { WebSocketServer } from "../../mod.ts";

const PAGE = await Deno.readTextFile(new URL("./index.html", import.meta.url));

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

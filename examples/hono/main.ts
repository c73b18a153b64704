/**
 * A ws4d server mounted in Hono (npm `hono`): a middleware establishes the
 * user from the request's token, and the route hands it to ws4d as the
 * context of the upgrade, which `onConnection` reads as `event.context` and
 * each connection keeps as `conn.context`. No cast: `c.env` passes as it is.
 *
 * Run: `deno run --allow-net --allow-env examples/hono/main.ts` (port `PORT`,
 * default 8000; 0 for any free one). It prints `listening on <port>`.
 * Connect with a token: `new WebSocket("ws://localhost:8000/ws?token=ada")`.
 *
 * @module
 */
import { Hono } from "npm:hono@^4";
import { createMiddleware } from "npm:hono@^4/factory";
import {
  type WebSocketConnection,
  WebSocketServer,
  type WSConnectionHandler,
  type WSMessageEvent,
  type WSServerConnectionEvent,
} from "../../mod.ts";

/** Who a token stands for (a stand-in for a real session store). */
export interface User {
  readonly id: string;
  readonly name: string;
}

const USERS: ReadonlyMap<string, User> = new Map([
  ["ada", { id: "u1", name: "Ada Lovelace" }],
  ["alan", { id: "u2", name: "Alan Turing" }],
]);

/** Hono's variables: what the middleware establishes. */
type Env = { Variables: { user: User } };

/** The user from `?token=` or `Authorization: Bearer`, else a 401. */
const authenticate = createMiddleware<Env>(async (c, next) => {
  const bearer = c.req.header("authorization")?.replace(/^Bearer /, "");
  const user = USERS.get(c.req.query("token") ?? bearer ?? "");
  if (user === undefined) return c.text("Unauthorized", 401);
  c.set("user", user);
  await next();
});

/** Each connection greets its user, then echoes with their name. */
class Session implements WSConnectionHandler<"text", Session, User> {
  onOpen(ws: WebSocketConnection<Session, "text", User>) {
    ws.send(`hello ${ws.context.name}`);
  }
  onMessage(
    ws: WebSocketConnection<Session, "text", User>,
    event: WSMessageEvent<string>,
  ) {
    ws.send(`${ws.context.name}: ${event.data}`);
  }
}

/** The ws4d server: its context is a `User`, named once on the event. */
export const wss = new WebSocketServer({
  onConnection: (_wss, event: WSServerConnectionEvent<User>) => {
    event.responseHeaders.set("x-user-id", event.context.id);
    return new Session();
  },
});

/** The Hono app: `/ws` upgrades, after the middleware. */
export const app = new Hono<Env>();
app.get("/", (c) => c.text("ws4d in Hono: connect to /ws?token=ada"));
app.get(
  "/ws",
  authenticate,
  (c) => wss.fetch(c.req.raw, c.env, { context: c.get("user") }),
);

if (import.meta.main) {
  const port = Number(Deno.env.get("PORT") ?? 8000);
  const server = Deno.serve({
    port,
    hostname: "127.0.0.1",
    onListen: ({ port }) =>
      Deno.stdout.writeSync(new TextEncoder().encode(`listening on ${port}\n`)),
  }, (request, info) => app.fetch(request, info));
  // A clean stop on SIGTERM/SIGINT: the sockets first, then the listener.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, async () => {
      await wss.terminate();
      await server.shutdown();
      Deno.exit(0);
    });
  }
}

/**
 * A ws4d server mounted beside oak (npm `@oakserver/oak`): oak's
 * middleware establishes the user from the request's token, and ws4d
 * answers the upgrade with that user as its context, which `onConnection`
 * reads as `event.context` and each connection keeps as `conn.context`.
 *
 * Run: `deno serve --allow-env --allow-read --port 8000 examples/oak/main.ts`
 * (`deno serve` prints where it listens). Connect with a token:
 * `new WebSocket("ws://localhost:8000/ws?token=ada")`.
 *
 * Why beside, not inside a route: oak's npm build types its requests and
 * responses with undici's (Node's) `Request` and `Response`, which differ
 * from Deno's, so no Deno `Response` (the 101 of an upgrade) can be handed
 * to oak's `ctx.response.with` without a cast. Here oak runs its middleware
 * first, and the `fetch` below, which `deno serve` calls with Deno's own
 * request, answers an authenticated `/ws` with ws4d. (oak's JSR build,
 * `jsr:@oak/oak`, has Deno's types: there `ctx.response.with(await
 * wss.fetch(ctx.request.source, undefined, { context }))` checks as it is.)
 *
 * @module
 */
import { Application, type Middleware } from "npm:@oakserver/oak@^14";
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

/** oak's state: what the middleware establishes. */
interface State {
  user?: User;
}

/** The users oak's middleware established, by request. */
const established = new WeakMap<object, User>();

/** `/ws`: the user from `?token=` or `Authorization: Bearer`, else a 401. */
const authenticate: Middleware<State> = async (ctx, next) => {
  if (ctx.request.url.pathname !== "/ws") return next();
  const bearer = ctx.request.headers.get("authorization")
    ?.replace(/^Bearer /, "");
  const token = ctx.request.url.searchParams.get("token") ?? bearer ?? "";
  const user = USERS.get(token);
  if (user === undefined) {
    ctx.response.status = 401;
    ctx.response.body = "Unauthorized";
    return;
  }
  ctx.state.user = user;
  if (ctx.request.source !== undefined) {
    established.set(ctx.request.source, user);
  }
  await next();
};

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
}, { path: "/ws" });

/** The oak application: the middleware, then its own pages. */
export const app = new Application<State>();
app.use(authenticate);
app.use((ctx) => {
  ctx.response.body = "ws4d beside oak: connect to /ws?token=ada";
});

/** The request as oak's types name it (undici's `Request`). */
type OakRequest = Parameters<typeof app.handle>[0];

/**
 * What `deno serve` calls: oak first, then ws4d for an authenticated `/ws`.
 * oak's npm build answers with undici's `Response` (at run time too), which
 * `Deno.serve` does not take: its page is copied into a Deno `Response`.
 */
export default {
  async fetch(request: OakRequest, info?: unknown): Promise<Response> {
    const answer = await app.handle(request);
    const user = established.get(request);
    if (user !== undefined && wss.handles(request)) {
      await answer?.body?.cancel();
      return wss.fetch(request, info, { context: user });
    }
    if (answer === undefined) return new Response(null, { status: 500 });
    return new Response(await answer.text(), {
      status: answer.status,
      headers: Array.from(answer.headers),
    });
  },
};

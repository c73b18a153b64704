/**
 * A plain Deno WebSocket server (no ws4d) that does to each connection what
 * a test plans: answer the handshake with an HTTP status, close at open with
 * any code (1002, 1012 …: codes a `WebSocketConnection` may not send), or
 * echo. For the client's reconnect tests, where the server's side must be
 * exactly what the SPEC names.
 *
 * @module
 */

/** What the server does with one connection. */
export type Plan =
  /** Answers the handshake with this HTTP status (no upgrade). */
  | { readonly status: number }
  /** Upgrades, then closes at open with `code` (0: a close frame with no code, 1005). */
  | { readonly close: number; readonly reason?: string }
  /** Upgrades and sends each message back; closed when the server is. */
  | { readonly echo: true };

/** What the server saw of one connection. */
export interface Seen {
  /** The path and query. */
  readonly url: string;
  /** The upgraded socket's messages, as received. */
  readonly messages: unknown[];
}

/** The plan's answers, by path. */
export type Planner = (path: string, count: number) => Plan;

/**
 * Listens on 127.0.0.1 (a free port); `plan(path, n)` says what to do with
 * the `n`-th connection (from 1) to `path`. Dispose it with `await using`.
 *
 * @example
 * ```ts ignore
 * await using server = new CloseServer((_path, n) =>
 *   n === 1 ? { close: 1012 } : { echo: true }
 * );
 * ```
 */
export class CloseServer implements AsyncDisposable {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #sockets = new Set<WebSocket>();
  readonly #counts = new Map<string, number>();
  /** Every connection, upgraded or not, in order. */
  readonly seen: Seen[] = [];

  constructor(plan: Planner) {
    this.#server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      (request) => this.#answer(request, plan),
    );
  }

  /** The server's port. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** A `ws://` URL to `path` on this server. */
  url(path = "/"): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** How many connections (handshakes) reached `path` so far. */
  count(path: string): number {
    return this.#counts.get(path) ?? 0;
  }

  #answer(request: Request, plan: Planner): Response {
    const { pathname, search } = new URL(request.url);
    const count = (this.#counts.get(pathname) ?? 0) + 1;
    this.#counts.set(pathname, count);
    const seen: Seen = { url: pathname + search, messages: [] };
    this.seen.push(seen);
    const action = plan(pathname, count);
    if ("status" in action) {
      return new Response("planned", { status: action.status });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    this.#sockets.add(socket);
    socket.onclose = () => this.#sockets.delete(socket);
    if ("close" in action) {
      socket.onopen = () => {
        if (action.close === 0) socket.close();
        else socket.close(action.close, action.reason ?? "");
      };
    } else {
      socket.onmessage = (event) => {
        seen.messages.push(event.data);
        socket.send(event.data);
      };
    }
    return response;
  }

  /** Closes every socket and stops listening. */
  async [Symbol.asyncDispose](): Promise<void> {
    const closed = [...this.#sockets].map((socket) =>
      new Promise((resolve) => {
        socket.addEventListener("close", resolve);
        if (socket.readyState === WebSocket.OPEN) socket.close();
        else if (socket.readyState === WebSocket.CLOSED) resolve(undefined);
      })
    );
    await Promise.all(closed);
    await this.#server.shutdown();
  }
}

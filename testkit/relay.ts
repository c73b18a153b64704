/**
 * A TCP relay on loopback between clients and a server, for tests of breaks:
 * it forwards every byte both ways, and on demand cuts every connection at
 * once (both sides' TCP closed, no close frame: each peer sees a break), cuts
 * after N more bytes in one direction (mid-frame), or refuses new
 * connections for a while.
 *
 * Refusing comes in two kinds, as a client meets both in the wild:
 * - `"unlisten"` (the default): the relay stops listening, and listens again
 *   on the same port when admitting. A client's TCP connect is refused
 *   (ECONNREFUSED): a server that is down, as during a `deno task serve`
 *   restart.
 * - `"hangup"`: the relay accepts and closes at once, before any byte. The
 *   TCP connection opens, but the handshake gets no answer: a proxy whose
 *   upstream is gone.
 * Either way a WebSocket client sees its connection fail (`error`, then
 * `close` 1006) without ever opening. Deno 2.9 reports these breaks, and a
 * cut, with code 0 and `wasClean` false on both ends.
 *
 * @module
 */

/** Which way bytes go: from the client to the server, or back. */
export type Direction = "toServer" | "toClient";

/** How the relay refuses new connections. */
export type Refusal = "unlisten" | "hangup";

/** The relay's counts since it started. */
export interface RelayCounts {
  /** Connections forwarded to the target (refused ones not counted). */
  readonly connections: number;
  /** Connections open now. */
  readonly open: number;
  /** Connections refused with `"hangup"`. */
  readonly refused: number;
  /** Bytes forwarded from clients to the server. */
  readonly toServer: number;
  /** Bytes forwarded from the server to clients. */
  readonly toClient: number;
}

interface Pair {
  readonly client: Deno.TcpConn;
  readonly server: Deno.TcpConn;
  closed: boolean;
  /** Both pumps, settled when each has stopped. */
  done: Promise<unknown>;
}

interface Budget {
  bytes: number;
  readonly reached: PromiseWithResolvers<void>;
}

const CHUNK = 16 * 1024;

/**
 * A relay listening on 127.0.0.1 (a free port) that forwards each connection
 * to `target`. Dispose it with `await using`: it stops listening, cuts what
 * is open, and waits for every pump to stop.
 *
 * @example
 * ```ts ignore
 * await using relay = new Relay({ hostname: "127.0.0.1", port: server.addr.port });
 * const ws = new WebSocket(relay.url("/ws"));
 * // … later, a break both peers see as 1006:
 * relay.cut();
 * ```
 */
export class Relay implements AsyncDisposable {
  #target: { hostname: string; port: number };
  readonly #port: number;
  #listener: Deno.TcpListener | null = null;
  #accepting: Promise<void> = Promise.resolve();
  #refusal: Refusal | null = null;
  readonly #pairs = new Set<Pair>();
  readonly #budgets: Record<Direction, Budget | null> = {
    toServer: null,
    toClient: null,
  };
  #counts = { connections: 0, refused: 0, toServer: 0, toClient: 0 };
  #idle: PromiseWithResolvers<void> | null = null;
  #disposed = false;

  constructor(target: { hostname: string; port: number }) {
    this.#target = { hostname: target.hostname, port: target.port };
    this.#listen(0);
    this.#port = (this.#listener as Deno.TcpListener).addr.port;
  }

  /**
   * Forwards the connections that come from now on to `target` (those open
   * stay where they are): a reconnect lands on another instance.
   */
  retarget(target: { hostname: string; port: number }): void {
    this.#target = { hostname: target.hostname, port: target.port };
  }

  /** The relay's port on 127.0.0.1. */
  get port(): number {
    return this.#port;
  }

  /** A `ws://` URL to the relay, with `path`. */
  url(path = "/"): string {
    return `ws://127.0.0.1:${this.#port}${path}`;
  }

  /** The counts so far. */
  get counts(): RelayCounts {
    return { ...this.#counts, open: this.#pairs.size };
  }

  /**
   * Cuts every open connection now: both sides' TCP closed at once, no
   * close frame. Connections that come later are forwarded as usual.
   *
   * @returns How many were cut.
   */
  cut(): number {
    const count = this.#pairs.size;
    for (const pair of this.#pairs) this.#close(pair);
    return count;
  }

  /**
   * Forwards exactly `bytes` more bytes in `direction` (over all
   * connections), then cuts every connection: a cut in the middle of a frame
   * when `bytes` ends inside one.
   *
   * @returns A promise that resolves once the cut happened.
   */
  cutAfter(bytes: number, direction: Direction): Promise<void> {
    if (!Number.isInteger(bytes) || bytes < 0) {
      throw new RangeError(
        `Cannot cut: bytes must be an integer of at least 0, current value is ${bytes}`,
      );
    }
    this.#budgets[direction]?.reached.resolve();
    const budget = { bytes, reached: Promise.withResolvers<void>() };
    this.#budgets[direction] = budget;
    if (bytes === 0) this.#spent(direction);
    return budget.reached.promise;
  }

  /**
   * Refuses new connections until {@linkcode Relay.admit}; open ones go on.
   * See the module doc for the two kinds.
   */
  refuse(how: Refusal = "unlisten"): void {
    if (this.#refusal !== null) this.admit();
    this.#refusal = how;
    if (how === "unlisten") this.#unlisten();
  }

  /** Accepts new connections again (on the same port). */
  admit(): void {
    const was = this.#refusal;
    this.#refusal = null;
    if (was === "unlisten" && !this.#disposed) this.#listen(this.#port);
  }

  /** Resolves once no connection is open. */
  idle(): Promise<void> {
    if (this.#pairs.size === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  /** Stops listening, cuts every connection, waits for every pump. */
  async close(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#unlisten();
    const pumps = [...this.#pairs].map((pair) => pair.done);
    this.cut();
    for (const direction of ["toServer", "toClient"] as const) {
      this.#budgets[direction]?.reached.resolve();
      this.#budgets[direction] = null;
    }
    await Promise.all([this.#accepting, ...pumps]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #listen(port: number): void {
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.#listener = listener;
    const previous = this.#accepting;
    this.#accepting = previous.then(() => this.#accept(listener));
  }

  #unlisten(): void {
    try {
      this.#listener?.close();
    } catch {
      // Closed already.
    }
    this.#listener = null;
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    try {
      for await (const client of listener) {
        if (this.#refusal === "hangup") {
          this.#counts.refused++;
          client.close();
          continue;
        }
        await this.#forward(client);
      }
    } catch {
      // The listener was closed while accepting: we stopped listening.
    }
  }

  async #forward(client: Deno.TcpConn): Promise<void> {
    let server: Deno.TcpConn;
    try {
      server = await Deno.connect(this.#target);
    } catch {
      client.close();
      return;
    }
    if (this.#disposed) {
      client.close();
      server.close();
      return;
    }
    this.#counts.connections++;
    const pair: Pair = {
      client,
      server,
      closed: false,
      done: Promise.resolve(),
    };
    this.#pairs.add(pair);
    pair.done = Promise.all([
      this.#pump(pair, client, server, "toServer"),
      this.#pump(pair, server, client, "toClient"),
    ]).finally(() => this.#close(pair));
  }

  /** Copies `from` to `to` until either ends or a budget runs out. */
  async #pump(
    pair: Pair,
    from: Deno.TcpConn,
    to: Deno.TcpConn,
    direction: Direction,
  ): Promise<void> {
    const buffer = new Uint8Array(CHUNK);
    try {
      while (!pair.closed) {
        const read = await from.read(buffer);
        if (read === null) break;
        let chunk = buffer.subarray(0, read);
        const budget = this.#budgets[direction];
        if (budget !== null && chunk.length >= budget.bytes) {
          chunk = chunk.subarray(0, budget.bytes);
        }
        for (let written = 0; written < chunk.length && !pair.closed;) {
          written += await to.write(chunk.subarray(written));
        }
        this.#counts[direction] += chunk.length;
        if (budget !== null) {
          budget.bytes -= chunk.length;
          if (budget.bytes === 0) {
            this.#spent(direction);
            return;
          }
        }
      }
      // The sender ended its side: end ours the same way, the other pump
      // goes on until the peer ends too.
      if (!pair.closed) await to.closeWrite();
    } catch {
      // Cut under a read or a write: the relay closed this pair.
    }
  }

  #spent(direction: Direction): void {
    const budget = this.#budgets[direction];
    this.#budgets[direction] = null;
    this.cut();
    budget?.reached.resolve();
  }

  #close(pair: Pair): void {
    if (pair.closed) return;
    pair.closed = true;
    for (const conn of [pair.client, pair.server]) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
    this.#pairs.delete(pair);
    if (this.#pairs.size === 0 && this.#idle !== null) {
      this.#idle.resolve();
      this.#idle = null;
    }
  }
}

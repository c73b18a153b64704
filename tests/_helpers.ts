/**
 * Shared test helpers: deadlines instead of sleeps, a server on a free
 * loopback port, a handler that records its callbacks.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type WebSocketConnection,
  WebSocketServer,
  type WebSocketServerOptions,
  type WSConnectionHandler,
  type WSError,
  type WSServerHandler,
} from "../mod.ts";

import { deadline, freePort } from "./_common.ts";

/** Moved to `_common.ts`, shared with bench/; still exported from here. */
export { deadline, freePort };

/** A server on 127.0.0.1, any free port, terminated on dispose. */
export function listen(
  handler: WSServerHandler,
  options: WebSocketServerOptions = {},
): WebSocketServer & { url: string } {
  const wss = new WebSocketServer(handler, {
    port: 0,
    hostname: "127.0.0.1",
    ...options,
  }) as WebSocketServer & { url: string };
  wss.url = `ws://127.0.0.1:${wss.addr?.port}`;
  return wss;
}

/** Any event of a connection, its fields optional. */
export interface AnyEvent {
  readonly type: string;
  readonly data?: unknown;
  readonly code?: number;
  readonly reason?: string;
  readonly wasClean?: boolean;
  readonly errors?: readonly WSError[];
  readonly status?: {
    readonly HTTPError: number;
    readonly errors?: readonly WSError[];
  };
}

/** One recorded callback: its name and its event. */
export interface Call {
  name: string;
  event: AnyEvent;
}

/** A connection handler that records every callback, with waits on them. */
export class Recorder implements WSConnectionHandler {
  readonly calls: Call[] = [];
  connection: WebSocketConnection | undefined;
  readonly #waiters: { test: (call: Call) => boolean; resolve: () => void }[] =
    [];

  /** The sequence of event types. */
  get types(): string[] {
    return this.calls.map((call) => call.event.type);
  }

  /** The `data` of every message. */
  get messages(): unknown[] {
    return this.calls.filter((call) => call.name === "onMessage").map((call) =>
      call.event.data
    );
  }

  /** Resolves once a call matches (at once if one did already). */
  when(test: (call: Call) => boolean, what: string, ms = 5000): Promise<void> {
    if (this.calls.some(test)) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ test, resolve });
    return deadline(promise, what, ms);
  }

  /** Resolves once `onTerminate` ran. */
  terminated(ms = 5000): Promise<void> {
    return this.when((call) => call.name === "onTerminate", "onTerminate", ms);
  }

  /** Resolves once `count` messages arrived. */
  received(count: number, ms = 5000): Promise<void> {
    let seen = 0;
    return this.when(
      (call) => call.name === "onMessage" && ++seen >= count,
      `${count} messages`,
      ms,
    );
  }

  record(
    name: string,
    connection: WebSocketConnection,
    event: AnyEvent,
  ): void {
    this.connection = connection;
    const call = { name, event };
    this.calls.push(call);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i];
      if (waiter !== undefined && waiter.test(call)) {
        this.#waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  onOpen(ws: WebSocketConnection, event: AnyEvent): void {
    this.record("onOpen", ws, event);
  }
  onMessage(ws: WebSocketConnection, event: AnyEvent): void {
    this.record("onMessage", ws, event);
  }
  onError(ws: WebSocketConnection, event: AnyEvent): void {
    this.record("onError", ws, event);
  }
  onTerminate(ws: WebSocketConnection, event: AnyEvent): void {
    this.record("onTerminate", ws, event);
  }
}

/** A Deno client socket, opened, with its messages and close recorded. */
export interface Peer {
  socket: WebSocket;
  messages: unknown[];
  closed: Promise<CloseEvent>;
  /** Resolves once `count` messages arrived. */
  received(count: number, ms?: number): Promise<void>;
}

/** Opens a WebSocket to `url`, resolving on open; rejects on failure. */
export async function connect(
  url: string,
  protocols?: string | string[],
): Promise<Peer> {
  const socket = new WebSocket(url, protocols);
  socket.binaryType = "arraybuffer";
  const messages: unknown[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  socket.onmessage = (event) => {
    messages.push(event.data);
    for (const waiter of waiters) {
      if (messages.length >= waiter.count) waiter.resolve();
    }
  };
  const closed = new Promise<CloseEvent>((resolve) => {
    socket.addEventListener("close", resolve);
  });
  await deadline(
    new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error(`Cannot connect to ${url}`));
    }),
    `open of ${url}`,
  );
  return {
    socket,
    messages,
    closed,
    received(count: number, ms = 5000) {
      if (messages.length >= count) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ count, resolve });
      return deadline(promise, `${count} messages`, ms);
    },
  };
}

/** Closes `peer` (if still open) and waits for its close event. */
export async function hangUp(peer: Peer): Promise<CloseEvent> {
  if (peer.socket.readyState < WebSocket.CLOSING) peer.socket.close();
  return await deadline(peer.closed, "client close");
}

/** The sequence numbers each sender's `tag` messages had, as `peer` got them. */
export function sequences(peer: Peer, tag: string): Map<string, number[]> {
  const bySender = new Map<string, number[]>();
  for (const message of peer.messages) {
    if (typeof message !== "string" || !message.startsWith(tag)) continue;
    const [sender, n] = message.split(":") as [string, string];
    bySender.set(sender, [...bySender.get(sender) ?? [], Number(n)]);
  }
  return bySender;
}

/**
 * Peer `i` sends `count` messages `${tag}${i}:${n}`; each peer must then get
 * every message of each peer it `hears`, exactly once and in order, and none
 * of its own. Resolves once checked.
 */
export async function exchange(
  peers: Peer[],
  { tag, count, hears = (i, j) => i !== j }: {
    tag: string;
    count: number;
    hears?: (i: number, j: number) => boolean;
  },
): Promise<void> {
  const goals = peers.map((peer, i) =>
    peer.messages.length +
    peers.filter((_, j) => hears(i, j)).length * count
  );
  for (const [i, peer] of peers.entries()) {
    for (let n = 0; n < count; n++) peer.socket.send(`${tag}${i}:${n}`);
  }
  await Promise.all(
    peers.map((peer, i) => peer.received(goals[i] as number, 10_000)),
  );
  const all = Array.from({ length: count }, (_, n) => n);
  for (const [i, peer] of peers.entries()) {
    const got = sequences(peer, tag);
    assert.equal(got.has(`${tag}${i}`), false, `${tag}${i}: its own came back`);
    for (const j of peers.keys()) {
      if (!hears(i, j)) continue;
      assert.deepEqual(
        got.get(`${tag}${j}`),
        all,
        `${tag}${i} from ${tag}${j}`,
      );
    }
  }
}

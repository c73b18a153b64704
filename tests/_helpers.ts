/**
 * Shared test helpers, the one module the tests import them from: deadlines
 * instead of sleeps, on the runtime's own timers, which a `FakeTime` does
 * not hold ({@linkcode within}, {@linkcode Events}, in `_waits.ts`);
 * recorders of the callbacks of a server connection ({@linkcode Recorder})
 * and of a client ({@linkcode ClientRecorder}, in `_recorders.ts`); a server
 * on a free loopback port that closes itself; raw Deno sockets (a peer, a
 * resume hello); a seeded generator.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import {
  WebSocketServer,
  type WebSocketServerOptions,
  type WSServerHandler,
} from "../mod.ts";
import { type HelloFrame, readHello } from "../_resume_frames.ts";
import { within } from "./_waits.ts";

export { Events, within } from "./_waits.ts";
export {
  type AnyEvent,
  type Call,
  ClientRecorder,
  Recorder,
} from "./_recorders.ts";

/**
 * A seeded generator (mulberry32) of numbers in [0, 1): the same sequence
 * for the same seed, so that every run replays the same cuts and moments.
 *
 * @example
 * ```ts
 * import { seeded } from "./_helpers.ts";
 * const [a, b] = [seeded(7), seeded(7)];
 * const first = a();
 * console.assert(first === b() && first >= 0 && first < 1);
 * ```
 */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A server listening on 127.0.0.1; `await using` terminates it. */
export interface Listening extends AsyncDisposable {
  readonly wss: WebSocketServer;
  /** `ws://127.0.0.1:port` (`wss://` when the options give a certificate). */
  readonly url: string;
  readonly port: number;
}

/**
 * A server on 127.0.0.1, any free port. Disposing terminates it; as
 * `terminate()` returns the same promise on every call, a test may have
 * terminated it already.
 *
 * @example
 * ```ts
 * import { listen } from "./_helpers.ts";
 * await using server = listen({ onConnection: () => null });
 * console.assert(server.url === `ws://127.0.0.1:${server.port}`);
 * ```
 */
export function listen(
  handler: WSServerHandler,
  options: WebSocketServerOptions = {},
): Listening {
  const wss = new WebSocketServer(handler, {
    port: 0,
    hostname: "127.0.0.1",
    ...options,
  });
  const port = wss.addr?.port;
  if (port === undefined) throw new Error("the server is not listening");
  const scheme = options.cert === undefined ? "ws" : "wss";
  return {
    wss,
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () => wss.terminate(),
  };
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
  await within(
    new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error(`Cannot connect to ${url}`));
    }),
    `open of ${url}`,
    5000,
  );
  return {
    socket,
    messages,
    closed,
    received(count: number, ms = 5000) {
      if (messages.length >= count) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ count, resolve });
      return within(promise, `${count} messages`, ms);
    },
  };
}

/** Closes `peer` (if still open) and waits for its close event. */
export async function hangUp(peer: Peer): Promise<CloseEvent> {
  if (peer.socket.readyState < WebSocket.CLOSING) peer.socket.close();
  return await within(peer.closed, "client close", 5000);
}

/** A raw Deno socket to a server that resumes, and the hello it sent first. */
export interface RawHello {
  readonly socket: WebSocket;
  readonly hello: HelloFrame;
}

/**
 * Opens a raw Deno socket to `url` (offering `protocols`, with an `Origin`
 * header where given) and reads the server's first frame as a resume
 * hello; rejects if the socket closes first or that frame is no hello.
 *
 * @example
 * ```ts
 * import { closeRaw, listen, rawHello, Recorder } from "./_helpers.ts";
 * await using server = listen({ onConnection: () => new Recorder() }, {
 *   resume: true,
 * });
 * const { socket, hello } = await rawHello(`${server.url}/?ws4d-resume=1`);
 * console.assert(!hello.resumed && hello.token.length === 36);
 * await closeRaw(socket);
 * ```
 */
export async function rawHello(
  url: string,
  { protocols = [], origin }: { protocols?: string[]; origin?: string } = {},
  ms = 5000,
): Promise<RawHello> {
  const socket = new WebSocket(url, {
    protocols,
    headers: origin === undefined ? {} : { origin },
  });
  socket.binaryType = "arraybuffer";
  const first = Promise.withResolvers<HelloFrame>();
  const onMessage = (event: MessageEvent<ArrayBuffer | string>) => {
    const hello = readHello(event.data);
    if (hello !== null) first.resolve(hello);
    else first.reject(new Error(`the first frame from ${url} is no hello`));
  };
  const onClose = () =>
    first.reject(new Error(`${url} closed before its hello`));
  socket.addEventListener("message", onMessage);
  socket.addEventListener("close", onClose);
  try {
    const hello = await within(first.promise, `the hello of ${url}`, ms);
    return { socket, hello };
  } catch (error) {
    socket.close();
    throw error;
  } finally {
    socket.removeEventListener("message", onMessage);
    socket.removeEventListener("close", onClose);
  }
}

/** Closes a raw Deno socket (if not closed yet) and waits for its close. */
export async function closeRaw(socket: WebSocket, ms = 5000): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return;
  const closed = new Promise((resolve) =>
    socket.addEventListener("close", resolve, { once: true })
  );
  socket.close();
  await within(closed, "the raw socket's close", ms);
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
    assertEquals(got.has(`${tag}${i}`), false, `${tag}${i}: its own came back`);
    for (const j of peers.keys()) {
      if (!hears(i, j)) continue;
      assertEquals(
        got.get(`${tag}${j}`),
        all,
        `${tag}${i} from ${tag}${j}`,
      );
    }
  }
}

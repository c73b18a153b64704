/**
 * Shared test helpers: deadlines instead of sleeps, on the runtime's own
 * timers, which a `FakeTime` does not hold ({@linkcode within},
 * {@linkcode Events}), a server on a free loopback port that closes itself,
 * and recorders of the callbacks of a server connection
 * ({@linkcode Recorder}) and of a client ({@linkcode ClientRecorder}).
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import {
  type WebSocket as WSClient,
  type WebSocketConnection,
  WebSocketServer,
  type WebSocketServerOptions,
  type WSClientHandler,
  type WSClientOpenEvent,
  type WSClientReconnectingEvent,
  type WSClientTerminateEvent,
  type WSConnectionErrorEvent,
  type WSConnectionHandler,
  type WSError,
  type WSErrorEvent,
  type WSMessageEvent,
  type WSOpenEvent,
  type WSServerHandler,
  type WSTerminateEvent,
} from "../mod.ts";
import { type HelloFrame, readHello } from "../_resume_frames.ts";

/** The runtime's timers, taken before any `FakeTime` replaces them. */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/**
 * Waits for `promise`, failing after `ms` of real time with `what` in the
 * message: a bound for a hung test, which a fake clock does not hold back.
 *
 * @example
 * ```ts
 * import { within } from "./_helpers.ts";
 * console.assert(await within(Promise.resolve(1), "one") === 1);
 * ```
 */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  ms = 5000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = realSetTimeout(
      () => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    realClearTimeout(timer);
  }
}

/**
 * Waits on callbacks that record themselves (spies): each callback calls
 * {@linkcode Events.notify}, and {@linkcode Events.until} resolves once its
 * condition holds. Bounded by real time, as {@linkcode within}.
 *
 * @example
 * ```ts
 * import { spy } from "@std/testing/mock";
 * import { Events } from "./_helpers.ts";
 * const events = new Events();
 * const onOpen = spy(() => events.notify());
 * queueMicrotask(onOpen);
 * await events.until(() => onOpen.calls.length === 1, "onOpen");
 * ```
 */
export class Events {
  readonly #wakers = new Set<() => void>();

  /**
   * Wakes every wait to check its condition again, a microtask later: a
   * spy records its call once the function it wraps has returned.
   */
  notify = (): void => {
    queueMicrotask(() => {
      for (const wake of [...this.#wakers]) wake();
    });
  };

  /** Resolves once `test()` holds, now or at a later `notify`. */
  async until(test: () => boolean, what: string, ms = 5000): Promise<void> {
    if (test()) return;
    const { promise, resolve } = Promise.withResolvers<void>();
    const wake = () => {
      if (test()) resolve();
    };
    this.#wakers.add(wake);
    try {
      await within(promise, what, ms);
    } finally {
      this.#wakers.delete(wake);
    }
  }
}

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

/** Any event of a connection or a client, its fields optional. */
export interface AnyEvent {
  readonly type: string;
  readonly data?: unknown;
  readonly code?: number;
  readonly reason?: string;
  readonly wasClean?: boolean;
  readonly reconnected?: boolean;
  readonly resumed?: boolean;
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

/**
 * The calls a handler received, in order, with waits on them: what
 * {@linkcode Recorder} and {@linkcode ClientRecorder} share. `Target` is
 * what the callbacks are given first (a connection or a client).
 */
class CallLog<Target> {
  readonly calls: Call[] = [];
  /** The target of the last call. */
  protected target: Target | undefined;
  readonly #waiters: {
    test: (call: Call) => boolean;
    resolve: (call: Call) => void;
  }[] = [];
  /** How many opens {@linkcode CallLog.nextOpen} took. */
  #taken = 0;

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

  /** The errors of every `onError`, in order. */
  get errors(): WSError[] {
    return this.calls.flatMap((call) => call.event.errors ?? []);
  }

  /**
   * Resolves with the first call that matches (at once if one did
   * already); rejects after `ms`.
   */
  when(test: (call: Call) => boolean, what: string, ms = 5000): Promise<Call> {
    const found = this.calls.find(test);
    if (found !== undefined) return Promise.resolve(found);
    const { promise, resolve } = Promise.withResolvers<Call>();
    this.#waiters.push({ test, resolve });
    return within(promise, what, ms);
  }

  /**
   * Resolves once `check()` holds: checked now, then after each call (for
   * what the callbacks change, such as a count kept by the test).
   */
  async until(check: () => boolean, what: string, ms = 5000): Promise<void> {
    if (check()) return;
    const { promise, resolve } = Promise.withResolvers<Call>();
    this.#waiters.push({ test: check, resolve });
    await within(promise, what, ms);
  }

  /** The event of every `onOpen`, in order. */
  get opens(): AnyEvent[] {
    return this.calls.filter((call) => call.name === "onOpen").map((call) =>
      call.event
    );
  }

  /**
   * Resolves with the event of the `count`-th `onOpen` (from 1), once it
   * ran; rejects at an `onTerminate` before it (no open comes after).
   */
  async nthOpen(count: number, ms = 5000): Promise<AnyEvent> {
    let seen = 0;
    const call = await this.when(
      (call) =>
        call.name === "onTerminate" ||
        (call.name === "onOpen" && ++seen >= count),
      `onOpen #${count}`,
      ms,
    );
    if (call.name === "onTerminate") {
      throw new Error(
        `ended (${call.event.code}) after ${seen} onOpen, before #${count}`,
      );
    }
    return call.event;
  }

  /**
   * Resolves with whether the next `onOpen` not yet taken by this method
   * resumed: the first call takes the first open, the next the second
   * (whether it ran already or not).
   */
  async nextOpen(ms = 5000): Promise<boolean> {
    const open = await this.nthOpen(++this.#taken, ms);
    return open.resumed === true;
  }

  /** Resolves with the event of `onOpen`, once it ran. */
  async opened(ms = 5000): Promise<AnyEvent> {
    return (await this.when((c) => c.name === "onOpen", "onOpen", ms)).event;
  }

  /** Resolves with the event of `onTerminate`, once it ran. */
  async terminated(ms = 5000): Promise<AnyEvent> {
    const end = await this.when(
      (c) => c.name === "onTerminate",
      "onTerminate",
      ms,
    );
    return end.event;
  }

  /** Resolves once `count` messages arrived. */
  received(count: number, ms = 5000): Promise<Call> {
    let seen = 0;
    return this.when(
      (call) => call.name === "onMessage" && ++seen >= count,
      `${count} messages`,
      ms,
    );
  }

  /** Records a call, then wakes whoever waits for it. */
  protected record(name: string, target: Target, event: AnyEvent): void {
    this.target = target;
    const call = { name, event };
    this.calls.push(call);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i];
      if (waiter !== undefined && waiter.test(call)) {
        this.#waiters.splice(i, 1);
        waiter.resolve(call);
      }
    }
  }
}

/**
 * A connection handler that records every callback, then runs the callback
 * of the same name in `acts`, if any, and returns its result (a promise
 * holds the connection's next callback, as a handler's own would).
 *
 * @example
 * ```ts
 * import { listen, Recorder } from "./_helpers.ts";
 * const echo = new Recorder({ onMessage: (ws, event) => ws.send(event.data) });
 * await using server = listen({ onConnection: () => echo });
 * console.assert(echo.calls.length === 0 && server.port > 0);
 * ```
 */
export class Recorder extends CallLog<WebSocketConnection>
  implements WSConnectionHandler {
  readonly #acts: Partial<WSConnectionHandler>;

  constructor(acts: Partial<WSConnectionHandler> = {}) {
    super();
    this.#acts = acts;
  }

  /** The connection of the last call. */
  get connection(): WebSocketConnection | undefined {
    return this.target;
  }

  onOpen(
    ws: WebSocketConnection,
    event: WSOpenEvent,
  ): unknown {
    this.record("onOpen", ws, event);
    return this.#acts.onOpen?.call(this, ws, event);
  }
  onMessage(
    ws: WebSocketConnection,
    event: WSMessageEvent,
  ): unknown {
    this.record("onMessage", ws, event);
    return this.#acts.onMessage?.call(this, ws, event);
  }
  onError(
    ws: WebSocketConnection,
    event: WSConnectionErrorEvent,
  ): unknown {
    this.record("onError", ws, event);
    return this.#acts.onError?.call(this, ws, event);
  }
  onTerminate(
    ws: WebSocketConnection,
    event: WSTerminateEvent,
  ): unknown {
    this.record("onTerminate", ws, event);
    return this.#acts.onTerminate?.call(this, ws, event);
  }
}

/**
 * A client handler that records every callback, then runs the callback of
 * the same name in `handler`, if any; `handler`'s settings (`dataType`,
 * `headers`, `protocols`, `maxQueued`, `reconnect`) are this handler's.
 *
 * @example
 * ```ts
 * import { ClientRecorder } from "./_helpers.ts";
 * import { WebSocket } from "../mod.ts";
 * const log = new ClientRecorder({ dataType: "object" });
 * // Port 1: privileged, and never given to a port-0 listener: refused.
 * new WebSocket("ws://127.0.0.1:1/", log);
 * await log.terminated();
 * console.assert(log.types.join() === "error,terminate");
 * ```
 */
export class ClientRecorder extends CallLog<WSClient>
  implements WSClientHandler {
  readonly dataType: WSClientHandler["dataType"];
  readonly headers: WSClientHandler["headers"];
  readonly protocols: WSClientHandler["protocols"];
  readonly maxQueued: WSClientHandler["maxQueued"];
  readonly reconnect: WSClientHandler["reconnect"];
  readonly resume: WSClientHandler["resume"];
  readonly #acts: WSClientHandler;

  constructor(handler: WSClientHandler = {}) {
    super();
    this.#acts = handler;
    this.dataType = handler.dataType;
    this.headers = handler.headers;
    this.protocols = handler.protocols;
    this.maxQueued = handler.maxQueued;
    this.reconnect = handler.reconnect;
    this.resume = handler.resume;
  }

  onOpen(
    ws: WSClient,
    event: WSClientOpenEvent,
  ): unknown {
    this.record("onOpen", ws, event);
    return this.#acts.onOpen?.call(this, ws, event);
  }
  onReconnecting(
    ws: WSClient,
    event: WSClientReconnectingEvent,
  ): unknown {
    this.record("onReconnecting", ws, event);
    return this.#acts.onReconnecting?.call(this, ws, event);
  }
  onMessage(
    ws: WSClient,
    event: WSMessageEvent,
  ): unknown {
    this.record("onMessage", ws, event);
    return this.#acts.onMessage?.call(this, ws, event);
  }
  onError(
    ws: WSClient,
    event: WSErrorEvent,
  ): unknown {
    this.record("onError", ws, event);
    return this.#acts.onError?.call(this, ws, event);
  }
  onTerminate(
    ws: WSClient,
    event: WSClientTerminateEvent,
  ): unknown {
    this.record("onTerminate", ws, event);
    return this.#acts.onTerminate?.call(this, ws, event);
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

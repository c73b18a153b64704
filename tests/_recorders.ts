/**
 * Recorders of the callbacks of a server connection ({@linkcode Recorder})
 * and of a client ({@linkcode ClientRecorder}), with waits on them bounded
 * by real time (`within`): what they were called with, in order, and the
 * opens of a client that reconnects.
 *
 * @module
 */
import type {
  WebSocket as WSClient,
  WebSocketConnection,
  WSClientHandler,
  WSClientOpenEvent,
  WSClientReconnectingEvent,
  WSClientTerminateEvent,
  WSConnectionErrorEvent,
  WSConnectionHandler,
  WSError,
  WSErrorEvent,
  WSMessageEvent,
  WSOpenEvent,
  WSTerminateEvent,
} from "../mod.ts";
import { within } from "./_waits.ts";

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

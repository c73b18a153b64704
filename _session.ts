// This module is browser compatible.
/**
 * The event sequence that a server-side connection and the client share
 * (SPEC.md, "Callbacks"): one callback queue per target, so that callbacks
 * never overlap and keep the order of events, and one `Session` that drives
 * a WHATWG `WebSocket` through open → messages → error? → terminate once.
 *
 * @module
 */
import {
  decode,
  encode,
  type Encoded,
  type Frame,
  frameSize,
  sizeOf,
} from "./_codec.ts";
import {
  callbackFailed,
  ERROR_NAMES,
  ErrorCode,
  socketFailure,
  Ws4dError,
  wsError,
} from "./_errors.ts";
import type { Reconnector } from "./_reconnect.ts";
import type { DataType, WSClientStatus, WSError } from "./_types.ts";
import { type RateLimit, TokenBucket } from "./_limits.ts";
import type { WSLimitName, WSServerCounts } from "./_stats.ts";
import {
  type ControlFrame,
  encodeAnswer,
  encodeControl,
  type HelloFrame,
  offerProtocols,
  readAnswer,
  readHello,
  RESUME_PROTOCOL,
  ResumeState,
  unwrapFrame,
  wrapUserData,
} from "./_resume.ts";

/**
 * A session's resuming (SPEC.md, "Resuming"): what it keeps and counts, and
 * its token. The server makes one for each session that negotiated it; a
 * client with `reconnect` and no subprotocol of its own holds one for its
 * life (its token is "" until a server's hello gives one).
 */
export interface ResumeLink {
  /** The kept messages (wrapped, as sent) and the counts. */
  state: ResumeState<Encoded>;
  /** The session's token. */
  token: string;
  /**
   * Whether the client reads the session's frames (server): from the start
   * where it offered a subprotocol, from its accept frame where it offered
   * in the query; until then its frames are data as they are. (A break
   * before the accept is kept as any other: the client may have had the
   * hello, and then offers the token.)
   */
  accepted: boolean;
}

/** The event of a client's `onOpen` after a resume. */
const RESUMED_OPEN = Object.freeze({
  type: "open" as const,
  reconnected: true,
  resumed: true,
});

/** A kept frame as the user gave it: without the `C1 00` prefix. */
function unwrapKept(frame: Encoded): Encoded {
  if (typeof frame === "string") return frame;
  if (frame instanceof Blob) return frame.slice(2);
  const bytes = ArrayBuffer.isView(frame)
    ? new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength)
    : new Uint8Array(frame);
  return bytes[0] === 0xc1 && bytes[1] === 0 ? bytes.slice(2) : bytes;
}

function resumeError(what: string): Ws4dError {
  return new Ws4dError(ErrorCode.ProtocolError, `Cannot resume: ${what}`);
}

/** A handler as the queue sees it: any object whose callbacks it may call. */
type AnyHandler = object;

/** An internal step of the queue (not a user callback): runs unguarded. */
type Step = () => void;

/** Where a callback failure goes: the owner decides what it means. */
export interface FailureSink {
  callbackFailed(name: string, thrown: unknown): void;
}

/**
 * Calls a target's callbacks one at a time, in order. A synchronous callback
 * costs one call and no allocation; a callback that returns a promise holds
 * the following ones back until it settles.
 */
export class CallbackQueue<T> {
  /** What the callbacks get as first argument, set once by its owner. */
  target!: T;
  /** Whose callbacks are called. */
  readonly handler: AnyHandler;
  readonly #onFailure: FailureSink | undefined;
  /** A callback is running, or its promise has not settled. */
  #busy = false;
  /**
   * Waiting entries, flat: name (or step), event, name, event, … Made on
   * first need: most connections never wait (idle memory per connection).
   */
  #waiting: unknown[] | null = null;

  /** Without `onFailure`, a subclass's `callbackFailed` receives failures. */
  constructor(handler: AnyHandler, onFailure?: FailureSink) {
    this.handler = handler;
    this.#onFailure = onFailure;
  }

  /** Where failures go when no `onFailure` was given (overridden). */
  callbackFailed(_name: string, _thrown: unknown): void {}

  /** Calls `handler[name](target, event)` now, or after those before it. */
  push(name: string, event: unknown): void {
    if (this.#busy) {
      (this.#waiting ??= []).push(name, event);
      return;
    }
    this.#call(name, event);
    if (!this.#busy && this.#waiting !== null) this.#drain();
  }

  /** Runs an internal step once every callback before it has settled. */
  after(step: Step): void {
    if (this.#busy) (this.#waiting ??= []).push(step, undefined);
    else step();
  }

  /**
   * Drops every waiting `onMessage`/`onOpen` (a fatal error stops the
   * processing) and puts `name` first, ahead of a waiting `onTerminate`.
   */
  preempt(name: string, event: unknown): void {
    const kept: unknown[] = [name, event];
    const waiting = this.#waiting ?? [];
    for (let i = 0; i < waiting.length; i += 2) {
      const entry = waiting[i];
      if (typeof entry === "function" || entry === "onTerminate") {
        kept.push(entry, waiting[i + 1]);
      }
    }
    this.#waiting = kept;
    if (!this.#busy) this.#drain();
  }

  #call(name: string, event: unknown): void {
    const handler = this.handler as Record<string, unknown>;
    const callback = handler[name];
    if (typeof callback !== "function") return;
    this.#busy = true;
    let result: unknown;
    try {
      result = callback.call(handler, this.target, event);
    } catch (thrown) {
      this.#busy = false;
      (this.#onFailure ?? this).callbackFailed(name, thrown);
      return;
    }
    if (
      result !== undefined && result !== null &&
      typeof (result as PromiseLike<unknown>).then === "function"
    ) {
      (result as PromiseLike<unknown>).then(
        this.#settled ??= () => {
          this.#busy = false;
          this.#drain();
        },
        (thrown) => {
          this.#busy = false;
          // The failure may start onError, which may hold the queue in turn.
          (this.#onFailure ?? this).callbackFailed(name, thrown);
          if (!this.#busy) this.#drain();
        },
      );
    } else {
      this.#busy = false;
    }
  }

  /** Releases the queue when a callback's promise fulfils (made on first need). */
  #settled: (() => void) | undefined;

  #drain(): void {
    // Read the array afresh each turn: a callback may preempt (replace) it.
    let waiting: unknown[] | null;
    while (
      !this.#busy && (waiting = this.#waiting) !== null && waiting.length > 0
    ) {
      const entry = waiting.shift();
      const event = waiting.shift();
      if (typeof entry === "function") (entry as Step)();
      else this.#call(entry as string, event);
    }
    if (this.#waiting?.length === 0) this.#waiting = null;
  }
}

/** What differs between a server-side connection and a client. */
export interface SessionSettings<T> {
  /** A server may close with 1007/1009/1011; a client only with 1000. */
  readonly side: "server" | "client";
  readonly dataType: DataType;
  readonly maxMessageSize: number;
  /** Past this many bytes waiting to go out, the peer is a slow consumer. */
  readonly maxBufferedAmount: number;
  /** The server's counters (server only). */
  readonly stats?: WSServerCounts;
  /** The token bucket's rates on what the peer sends (server only). */
  readonly rateLimit?: RateLimit | undefined;
  /** Messages that may wait while a client connects (client only). */
  readonly maxQueued?: number;
  /** The URL a client connects to, named in its connection errors. */
  readonly url?: string;
  /**
   * Milliseconds to wait for the peer's answer to a close we started before
   * giving the connection up (server only; the client waits for its socket).
   */
  readonly closeTimeout?: number;
  /** Errors with no `onError` to receive them, or thrown by `onError`. */
  readonly fallback: (errors: readonly WSError[]) => void;
  /** The event of `onOpen` (a client's says whether it reconnected). */
  readonly openEvent?: object;
  /**
   * A client with `reconnect`: whether and when to connect again after an
   * end that is neither its own close nor a fatal error, and how.
   */
  readonly reconnect?: Reconnector;
  /** The socket opened, before `onOpen` runs (the server's registry). */
  onConnected?(session: Session<T>): void;
  /** The status has left `"Connected"` (the server's registry). */
  onLeave?(session: Session<T>): void;
  /** A client declined resuming: its token names the session no more. */
  onUnresumable?(session: Session<T>): void;
  /** `onTerminate` has run and settled: nothing more will be called. */
  onDone?(session: Session<T>): void;
}

const OPEN_EVENT = Object.freeze({ type: "open" as const });

/**
 * A valid close code for `onTerminate`: Deno reports 0 for a broken
 * connection, where browsers report 1006 (RFC 6455 §7.1.5).
 */
export function normaliseCloseCode(code: number | undefined): number {
  if (code === undefined || code === 0) return 1006;
  return code;
}

/**
 * One socket's life, as both the connection and the client see it. It owns
 * the socket's listeners, the status, the codec calls and fatal errors.
 */
export class Session<T> extends CallbackQueue<T> {
  status: WSClientStatus = "Connecting";
  /** The socket, once it exists (a client may fail before). */
  socket: WebSocket | null = null;
  readonly #settings: SessionSettings<T>;
  readonly #server: boolean;
  /** Messages stop being delivered: a fatal error, or our own close. */
  #stopped = false;
  /** `onError` was dispatched: at most once. */
  #failed = false;
  /** `onTerminate` was dispatched: exactly once. */
  #ended = false;
  /** Messages sent while connecting (client only). */
  #outbox: Encoded[] | null = null;
  /**
   * The code and reason of the close we sent, or of the protocol error the
   * socket failed the connection with: reported when the connection then
   * breaks, instead of 1006.
   */
  #sentCode = 0;
  #sentReason = "";
  /** A close asked for before a server socket opened. */
  #closeOnOpen: [number, string] | null = null;
  /** Gives the connection up if the peer does not answer our close. */
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #openEvent: object;
  /** A client with `reconnect` waits to connect again (it has no socket). */
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Resuming, where negotiated (server) or offered (client); else null. */
  #link: ResumeLink | null = null;
  /**
   * The socket carries the resumable session now: open, and (a client)
   * past the server's hello. A server's session between two sockets keeps
   * what it sends without sending it.
   */
  #linked = false;
  /**
   * A client's socket offered a token: the server's hello says if resumed.
   * Else it made a fresh offer in the query, where the server's first frame
   * tells whether it resumes ({@linkcode Session.resumeOffer}).
   */
  #offeredToken = false;
  /**
   * A client after a query offer, open, before the server's first frame:
   * what it sends goes as it is, and is kept for a resend in case the
   * server's hello comes (resuming is then active from the first message).
   */
  #probing = false;
  /**
   * A client that kept more than the default limits while probing: it
   * keeps nothing more, and turns a hello that comes down (SPEC: what each
   * side keeps stays bounded, against a server that never sends).
   */
  #declining = false;
  /** When a client's linked socket broke (ms): its token lasts `window`. */
  #brokeAt = 0;
  /** A broken server session waits this long for its client. */
  #windowTimer: ReturnType<typeof setTimeout> | undefined;
  /** The count a resuming client offered, for the new socket's open. */
  #resumeFrom = 0;

  /** The owner sets `target` before it attaches a socket. */
  constructor(handler: AnyHandler, settings: SessionSettings<T>) {
    // One object per connection: the session is its own callback queue.
    super(handler);
    this.#settings = settings;
    this.#server = settings.side === "server";
    this.#openEvent = settings.openEvent ?? OPEN_EVENT;
  }

  /** Listens to `socket`; the session drives it from now on. */
  attach(socket: WebSocket): void {
    this.socket = socket;
    // Browsers default to "blob", Deno to "arraybuffer": one input for the codec.
    socket.binaryType = "arraybuffer";
    socket.onopen = this.#onOpen;
    const limit = this.#settings.rateLimit;
    if (limit !== undefined) {
      this.#bucket ??= new TokenBucket(limit, performance.now());
    }
    // Other handlers where resuming is on: nothing more on the plain path.
    const link = this.#link;
    socket.onmessage = link === null
      ? this.#plainReceiver()
      : link.accepted
      ? this.#onResumableMessage
      : this.#onUnacceptedMessage;
    socket.onerror = this.#onError;
    socket.onclose = this.#onClose;
  }

  /**
   * Turns resuming on, before the first `attach`: the server, for a session
   * that negotiated it; a client that offers it.
   */
  enableResume(link: ResumeLink): void {
    this.#link = link;
  }

  /** The session's resuming, or null. */
  get resumeLink(): ResumeLink | null {
    return this.#link;
  }

  /**
   * What a client offers on its next try: the subprotocols that carry its
   * session's token, or `null` for a fresh offer, in the query. The token
   * is offered only within the `window` of the server's hello after the
   * break: a server gone without `resume` would fail each handshake that
   * offers a subprotocol (browsers, Node, Bun), and past the window the
   * session is over anyway.
   */
  resumeOffer(): string[] | null {
    const link = this.#link as ResumeLink;
    if (
      link.token !== "" &&
      performance.now() > link.state.windowDeadline(this.#brokeAt)
    ) {
      link.token = ""; // At open, what it had not acknowledged goes first.
    }
    this.#offeredToken = link.token !== "";
    return this.#offeredToken
      ? offerProtocols({ token: link.token, received: link.state.received })
      : null;
  }

  /**
   * Whether a client that received `peerReceived` messages may resume this
   * server session: it has resuming, has not ended nor begun to close, and
   * the count is between what it had acknowledged and what was sent.
   */
  canResume(peerReceived: number): boolean {
    return this.#link !== null && this.status === "Connected" &&
      !this.#stopped && !this.#ended &&
      this.#link.state.canResumeFrom(peerReceived);
  }

  /**
   * Resumes a server session on a new socket: the old one, if the server
   * had not seen it break, is let go (no more read from it); at the new
   * one's open, the hello, then what the client did not receive.
   */
  resumeWith(socket: WebSocket, peerReceived: number): void {
    const old = this.socket;
    if (old !== null) {
      this.#detach(old);
      try {
        old.close(1000, "resumed");
      } catch {
        // Closed already.
      }
    }
    this.#stopWaiting();
    this.#linked = false;
    // Its token came back: the client reads the session's frames.
    (this.#link as ResumeLink).accepted = true;
    this.#resumeFrom = peerReceived;
    this.socket = socket;
    socket.binaryType = "arraybuffer";
    socket.onopen = this.#onResumedOpen;
    socket.onmessage = this.#onResumableMessage;
    socket.onerror = this.#onError;
    socket.onclose = this.#onClose;
  }

  /** The `message` handler without resuming: behind `rateLimit` where set. */
  #plainReceiver(): (event: MessageEvent) => void {
    return this.#settings.rateLimit === undefined
      ? this.#onMessage
      : this.#onLimitedMessage;
  }

  /**
   * A broken server session stops waiting for its client (resumed, window
   * passed, ended): the window's timer and the `sessionsWaiting` gauge.
   */
  #stopWaiting(): void {
    if (this.#windowTimer === undefined) return;
    clearTimeout(this.#windowTimer);
    this.#windowTimer = undefined;
    const stats = this.#settings.stats;
    if (stats !== undefined) stats.sessionsWaiting--;
  }

  /** Stops listening to `socket`: nothing it does reaches the session any more. */
  #detach(socket: WebSocket): void {
    socket.onopen =
      socket.onmessage =
      socket.onerror =
      socket.onclose =
        null;
  }

  /** A resumed server socket opened: hello, then the messages kept. */
  #onResumedOpen = (): void => {
    const link = this.#link as ResumeLink;
    const socket = this.socket as WebSocket;
    const frames = this.#ended ? null : link.state.resumeFrom(this.#resumeFrom);
    if (frames === null) {
      // Ended (or closing) between the handshake and the open.
      this.#detach(socket);
      try {
        socket.close(1000, "");
      } catch {
        // Closed already.
      }
      return;
    }
    socket.send(encodeControl({
      type: "hello",
      resumed: true,
      received: link.state.received,
      limits: link.state.limits,
      token: link.token,
    }));
    for (const frame of frames) socket.send(frame as string);
    this.#linked = true;
    this.#budget = 0;
  };

  /** A server session lost its socket with no close: it waits `window`. */
  #broken(): void {
    const link = this.#link as ResumeLink;
    this.#detach(this.socket as WebSocket);
    this.socket = null;
    this.#linked = false;
    const stats = this.#settings.stats;
    if (link.state.overLimits) {
      if (stats !== undefined) stats.sessionsExpired.limits++;
      this.#end(1006, "", false);
      return;
    }
    // Back down in #stopWaiting: resumed, window passed, or ended.
    if (stats !== undefined) stats.sessionsWaiting++;
    this.#windowTimer = setTimeout(() => {
      this.#stopWaiting();
      if (stats !== undefined) stats.sessionsExpired.window++;
      this.#end(1006, "", false);
    }, link.state.limits.window * 1000);
  }

  /** The server's hello reached a client that offered resuming. */
  #onHello(hello: HelloFrame): void {
    const link = this.#link as ResumeLink;
    const socket = this.socket as WebSocket;
    let frames: Encoded[] | null;
    if (hello.resumed) {
      frames = this.#offeredToken && hello.token === link.token
        ? link.state.resumeFrom(hello.received)
        : null;
      if (frames === null) {
        this.fail(
          resumeError(
            `the server resumed from ${hello.received} messages, not a count this client can resume from`,
          ),
          true,
        );
        return;
      }
      link.state.limits = hello.limits;
    } else {
      // A fresh session: what the old one had not acknowledged goes first.
      frames = link.state.takeUnacknowledged();
      link.state = new ResumeState<Encoded>(hello.limits);
      for (const frame of frames) {
        link.state.keep(frame, sizeOf(unwrapKept(frame)));
      }
    }
    link.token = hello.token;
    for (const frame of frames) socket.send(frame as string);
    this.#linked = true;
    this.#opened(hello.resumed ? RESUMED_OPEN : undefined);
  }

  /**
   * Sends `message` through the codec; queues it while a client connects.
   * The value is checked first, whatever the state (SPEC.md, "Data types").
   *
   * @returns False, sending nothing, when the connection is closing or
   * closed, or a client's queue is full: a send that races a close is no
   * error (a timer, a broadcast from another connection's callback).
   */
  send(message: unknown): boolean {
    const data = encode(message);
    const status = this.status;
    if (status === "Connected") {
      this.#write(data);
      return true;
    }
    if (status !== "Connecting" || this.#server) return false;
    const outbox = this.#outbox ??= [];
    if (outbox.length >= (this.#settings.maxQueued ?? Infinity)) return false;
    outbox.push(data);
    return true;
  }

  /** Sends an already encoded message (broadcast); false if not open. */
  sendEncoded(data: Encoded): boolean {
    if (this.status !== "Connected") return false;
    this.#write(data);
    return true;
  }

  /**
   * Bytes that may still be sent before `bufferedAmount` could pass
   * `maxBufferedAmount`: reading `bufferedAmount` costs a call into Deno, so
   * it is read only once the bytes sent since the last reading could have
   * taken it over the limit.
   */
  #budget = 0;

  #write(data: Encoded): void {
    if (
      this.#link !== null && (this.#linked || this.#server || this.#probing)
    ) {
      this.#writeKept(data);
      return;
    }
    this.#transmit(data, data);
  }

  /** Keeps `data` for a resend, and sends it where the socket carries it. */
  #writeKept(data: Encoded): void {
    const state = (this.#link as ResumeLink).state;
    const frame = wrapUserData(data);
    state.keep(frame, sizeOf(data));
    if (this.#linked) {
      this.#transmit(frame, data);
      if (state.overLimits && !this.#stopped) {
        const { maxMessages, maxBytes } = state.limits;
        this.#slowConsumer(
          `Cannot send message: the peer acknowledged none of the last ${state.keptMessages} messages (${state.keptBytes} bytes), resume allows ${maxMessages} messages and ${maxBytes} bytes`,
        );
      }
    } else if (this.#probing) {
      // The server reads a client's frames as they are until it accepts.
      this.#transmit(data, data);
      if (state.overLimits) {
        // No hello yet, past the default limits: keep nothing more.
        (this.#link as ResumeLink).state = new ResumeState<Encoded>();
        this.#probing = false;
        this.#declining = true;
      }
    } else if (state.overLimits && !this.#ended) {
      // A broken session kept more than its limits: it ends (deferred, as
      // a broadcast may call this inside another connection's callback).
      queueMicrotask(() => {
        const stats = this.#settings.stats;
        if (stats !== undefined && !this.#ended) stats.sessionsExpired.limits++;
        this.#end(1006, "", false);
      });
    }
  }

  /** Sends `wire` (the frame of `data`) and counts it. */
  #transmit(wire: Encoded, data: Encoded): void {
    const socket = this.socket as WebSocket;
    socket.send(wire as string);
    const text = typeof data === "string";
    const size = sizeOf(data);
    const stats = this.#settings.stats;
    if (stats !== undefined) {
      stats.messagesSent++;
      stats.bytesSent += size;
    }
    // An upper bound of the frame: 3 bytes of UTF-8 per UTF-16 unit, 14 of header.
    this.#budget -= 14 + (text ? size * 3 : size);
    if (this.#budget < 0) {
      const amount = socket.bufferedAmount;
      const max = this.#settings.maxBufferedAmount;
      if (amount > max) {
        this.#slowConsumer(
          `Cannot send message: ${amount} bytes wait to go out, maxBufferedAmount is ${max}`,
        );
      } else this.#budget = max - amount;
    }
  }

  /**
   * Closes with `code`; the terminate event follows the socket's close, or
   * comes `giveUpAfter` ms later if the peer never answers.
   */
  close(
    code: number,
    reason: string,
    giveUpAfter: number | undefined = this.#settings.closeTimeout,
  ): void {
    if (this.status === "Closing" || this.status === "Closed") return;
    this.#stopped = true;
    this.#sentCode = code;
    this.#sentReason = reason;
    this.#giveUpAfter(giveUpAfter);
    if (this.status === "Connecting" && this.#server) {
      // A server socket cannot close before it opens: close it on open.
      this.#closeOnOpen = [code, reason];
      this.status = "Closing";
      return;
    }
    this.#leave("Closing");
    this.#closeSocket(code, reason);
  }

  /** The close of the socket, deferred by one task (see `#closeSocket`). */
  #pendingClose: ReturnType<typeof setTimeout> | undefined;

  /**
   * Closes the socket a task later. Deno cuts the TCP before the close frame
   * goes out when a server socket is closed inside its `message` event while
   * more frames wait (the peer sees 1006); a task later the peer gets the
   * code, whatever was buffered (issue 11, point 4).
   */
  #closeSocket(code: number, reason: string): void {
    if (this.socket === null) {
      // A client between two connections, or a broken server session
      // waiting for its client: nothing to close, it ends now.
      if (this.#retryTimer !== undefined || this.#windowTimer !== undefined) {
        this.#endWaiting();
      }
      return;
    }
    if (this.#pendingClose !== undefined) return;
    this.#pendingClose = setTimeout(this.#closeNow, 0, code, reason);
  }

  #closeNow = (code: number, reason: string): void => {
    clearTimeout(this.#pendingClose);
    this.#pendingClose = undefined;
    try {
      this.socket?.close(code, reason);
    } catch {
      // A socket that cannot close any more is closing already.
    }
  };

  /**
   * Deno keeps a closing socket open as long as the peer neither answers nor
   * cuts: past `ms`, the connection ends with the code we sent.
   */
  #giveUpAfter(ms: number | undefined): void {
    if (ms === undefined || ms === Infinity || this.#closeTimer !== undefined) {
      return;
    }
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined;
      this.#stopped = true;
      this.#end(this.#sentCode || 1006, this.#sentReason, false);
    }, ms);
  }

  /**
   * Gives the connection up without waiting for its socket any more: it
   * terminates now with 1006 (SPEC.md, `terminate` through `fetch`).
   */
  abandon(): void {
    this.#stopped = true;
    this.#end(1006, "", false);
  }

  /** A fatal error: `onError` once, then a close with the error's code. */
  fail(error: Ws4dError, dropWaiting: boolean): void {
    if (this.#failed || this.#ended) {
      this.#settings.fallback([error.toEntry()]);
      return;
    }
    this.#failed = true;
    this.#stopped = true;
    const errors = [error.toEntry()];
    this.#dispatchError(
      this.status === "Connecting" ? this.#withDropped(errors) : errors,
      dropWaiting,
    );
    if (this.status === "Connected" || this.status === "Connecting") {
      this.#leave("Closing");
      this.#closeFor(error);
    }
  }

  /** Closes with a fatal error's code and reason (a client: 1000). */
  #closeFor(error: Ws4dError): void {
    this.#sentCode = this.#server ? error.closeCode : 1000;
    this.#sentReason = error.closeReason(this.#settings.side);
    this.#giveUpAfter(this.#settings.closeTimeout);
    this.#closeSocket(this.#sentCode, this.#sentReason);
  }

  #slowConsumer(message: string): void {
    this.#leave("Closing");
    this.#stopped = true;
    // Deferred: send() may run inside another connection's callback.
    queueMicrotask(() => {
      if (this.#ended) return;
      this.#failed = true;
      const error = new Ws4dError(ErrorCode.SlowConsumer, message);
      this.#dispatchError([error.toEntry()], true);
      this.#closeFor(error);
    });
  }

  #dispatchError(errors: WSError[], first: boolean): void {
    const stats = this.#settings.stats;
    if (stats !== undefined) countLimits(stats, errors);
    if (
      typeof (this.handler as { onError?: unknown }).onError !== "function"
    ) {
      this.#settings.fallback(errors);
      return;
    }
    if (stats !== undefined) countErrors(stats, errors);
    const event = this.#server
      ? { type: "error", status: { HTTPError: 0, errors }, errors }
      : { type: "error", errors };
    if (first) this.preempt("onError", event);
    else this.push("onError", event);
  }

  /** A user callback threw or rejected (called by the queue). */
  override callbackFailed(name: string, thrown: unknown): void {
    const error = callbackFailed(name, thrown);
    if (name === "onError" || name === "onTerminate") {
      this.#settings.fallback([error.toEntry()]);
    } else {
      this.fail(error, true);
    }
  }

  #leave(status: "Closing" | "Closed"): void {
    const was = this.status;
    this.status = status;
    if (was === "Connected") this.#settings.onLeave?.(this);
  }

  #onOpen = (): void => {
    if (this.#ended) return;
    if (this.status !== "Connecting") {
      // Closed before it opened: a server socket cannot close before its
      // open, so its close waits for it; a client's is on its way already.
      if (this.#closeOnOpen !== null) this.#closeSocket(...this.#closeOnOpen);
      return;
    }
    const link = this.#link;
    if (link !== null) {
      const socket = this.socket as WebSocket;
      if (this.#server) {
        socket.send(encodeControl({
          type: "hello",
          resumed: false,
          received: 0,
          limits: link.state.limits,
          token: link.token,
        }));
        this.#linked = true;
      } else if (socket.protocol === RESUME_PROTOCOL) {
        return; // The server's hello comes first.
      } else {
        // A fresh offer in the query, or a server that chose no subprotocol
        // (Deno opens anyway): what the old session had not acknowledged
        // goes again first. After a query offer the server's first frame
        // says whether it resumes; meanwhile the client sends as it is, and
        // keeps what it sends.
        const kept = link.state.takeUnacknowledged();
        link.state = new ResumeState<Encoded>();
        link.token = "";
        this.#probing = !this.#offeredToken;
        socket.onmessage = this.#probing
          ? this.#onProbeMessage
          : this.#onMessage;
        if (kept.length > 0) {
          this.#outbox = [...kept.map(unwrapKept), ...this.#outbox ?? []];
        }
      }
    }
    this.#opened(undefined);
  };

  /** Connected: the messages queued while connecting go, then `onOpen`. */
  #opened(event: object | undefined): void {
    this.status = "Connected";
    this.#settings.onConnected?.(this);
    const outbox = this.#outbox;
    if (outbox !== null) {
      this.#outbox = null;
      if (this.#linked || this.#probing) {
        for (const data of outbox) this.#writeKept(data);
      } else {
        for (const data of outbox) {
          (this.socket as WebSocket).send(data as string);
        }
      }
    }
    const reconnect = this.#settings.reconnect;
    const opened = reconnect === undefined
      ? this.#openEvent
      : reconnect.opened();
    this.push("onOpen", event ?? opened);
  }

  #onMessage = (event: MessageEvent): void => {
    if (!this.#stopped) this.#receive(event.data as Frame);
  };

  /** A data message: counted, decoded, handed to `onMessage`. */
  #receive(frame: Frame): void {
    const settings = this.#settings;
    const stats = settings.stats;
    if (stats !== undefined) {
      stats.messagesReceived++;
      stats.bytesReceived += frameSize(frame);
    }
    const data = decode(frame, settings.dataType, settings.maxMessageSize);
    if (data instanceof Ws4dError) this.fail(data, false);
    else this.push("onMessage", { type: "message", data });
  }

  /**
   * `#onMessage` where resuming is on: control frames taken out, data
   * messages counted and acknowledged, the rate limit applied.
   */
  #onResumableMessage = (event: MessageEvent): void => {
    if (this.#stopped) return;
    const unwrapped = unwrapFrame(event.data as Frame);
    if (typeof unwrapped === "string" || unwrapped instanceof ArrayBuffer) {
      if (!this.#linked) {
        this.fail(resumeError("a data message came before hello"), false);
        return;
      }
      this.#receiveCounted(unwrapped);
    } else if (unwrapped instanceof Ws4dError) {
      this.fail(unwrapped, false);
    } else {
      this.#onControl(unwrapped);
    }
  };

  /** A data message of a resumable session: rate limit, count, ack, deliver. */
  #receiveCounted(frame: Frame): void {
    const size = frameSize(frame);
    const bucket = this.#bucket;
    if (bucket !== undefined && !bucket.take(size, performance.now())) {
      this.#rateLimited();
      return;
    }
    const link = this.#link as ResumeLink;
    if (link.state.countReceived(size)) {
      (this.socket as WebSocket).send(
        encodeControl({ type: "ack", received: link.state.takeAck() }),
      );
    }
    this.#receive(frame);
  }

  /**
   * A server session offered in the query, before the client accepts it:
   * the client's frames are data as they are, but for its answer to the
   * hello, which carries the token.
   */
  #onUnacceptedMessage = (event: MessageEvent): void => {
    if (this.#stopped) return;
    const frame = event.data as Frame;
    const link = this.#link as ResumeLink;
    const answer = readAnswer(frame, link.token);
    if (answer === null) {
      this.#receiveCounted(frame);
    } else if (answer === "accept") {
      link.accepted = true;
      (this.socket as WebSocket).onmessage = this.#onResumableMessage;
    } else {
      // Declined: plain from here on, both ways, and nothing kept.
      const socket = this.socket as WebSocket;
      this.#settings.onUnresumable?.(this);
      this.#link = null;
      this.#linked = false;
      socket.send(encodeControl({ type: "declined" }));
      socket.onmessage = this.#plainReceiver();
    }
  };

  /**
   * A client's first frame after a query offer: the server's hello (it
   * resumes: the client accepts, or declines where it kept nothing), or
   * anything else (it does not: plain from here on, that frame included).
   */
  #onProbeMessage = (event: MessageEvent): void => {
    if (this.#stopped) return;
    const frame = event.data as Frame;
    const socket = this.socket as WebSocket;
    const link = this.#link as ResumeLink;
    const hello = readHello(frame);
    if (hello !== null && !hello.resumed) {
      if (this.#declining) {
        socket.send(encodeAnswer("decline", hello.token));
        socket.onmessage = this.#onDecliningMessage;
        return;
      }
      link.token = hello.token;
      link.state.limits = hello.limits;
      socket.send(encodeAnswer("accept", hello.token));
      this.#probing = false;
      this.#linked = true;
      socket.onmessage = this.#onResumableMessage;
      return;
    }
    // A server that does not resume: nothing to keep for it.
    link.state = new ResumeState<Encoded>();
    this.#probing = false;
    this.#declining = false;
    socket.onmessage = this.#onMessage;
    this.#receive(frame);
  };

  /** A client that declined: the server's frames, until its `declined`. */
  #onDecliningMessage = (event: MessageEvent): void => {
    if (this.#stopped) return;
    const unwrapped = unwrapFrame(event.data as Frame);
    if (typeof unwrapped === "string" || unwrapped instanceof ArrayBuffer) {
      this.#receive(unwrapped);
    } else if (unwrapped instanceof Ws4dError) {
      this.fail(unwrapped, false);
    } else if (unwrapped.type === "declined") {
      this.#declining = false;
      (this.socket as WebSocket).onmessage = this.#onMessage;
    } else if (unwrapped.type !== "ack") {
      this.fail(resumeError("an unexpected hello"), false);
    }
  };

  #onControl(control: ControlFrame): void {
    if (control.type === "ack") {
      if (!(this.#link as ResumeLink).state.acknowledge(control.received)) {
        this.fail(
          resumeError(`an ack of ${control.received} messages is out of range`),
          false,
        );
      }
    } else if (this.#server || this.#linked || control.type !== "hello") {
      this.fail(resumeError(`an unexpected ${control.type}`), false);
    } else {
      this.#onHello(control);
    }
  }

  /** The bucket of `rateLimit`, made at attach (server only). */
  #bucket: TokenBucket | undefined;

  /**
   * `#onMessage` behind the rate limit: installed only where `rateLimit` is
   * set, so a server without it pays nothing per message.
   */
  #onLimitedMessage = (event: MessageEvent): void => {
    if (this.#stopped) return;
    const frame = event.data as Frame;
    if (
      (this.#bucket as TokenBucket).take(frameSize(frame), performance.now())
    ) {
      this.#receive(frame);
      return;
    }
    this.#rateLimited();
  };

  #rateLimited(): void {
    const limit = this.#settings.rateLimit as RateLimit;
    const stats = this.#settings.stats;
    if (stats !== undefined) stats.messagesReceived++;
    this.fail(
      new Ws4dError(
        ErrorCode.RateLimited,
        `Cannot receive message: the peer sent more than ${
          limit.messages === Infinity ? "" : `${limit.messages} messages, `
        }${
          limit.bytes === Infinity ? "" : `${limit.bytes} bytes, `
        }per ${limit.per} s`,
      ),
      false,
    );
  }

  #onError = (event: Event): void => {
    if (this.#failed || this.#ended) return;
    if (this.status === "Connecting") {
      this.#connectionFailed(event);
      return;
    }
    // Deno's engine has failed the connection (it cuts the TCP, with no
    // close frame): a protocol error of the peer is a fatal error.
    const message = (event as Partial<ErrorEvent>).message;
    const error = typeof message === "string" ? socketFailure(message) : null;
    if (error === null) return; // A break: onTerminate says 1006.
    this.#failed = true;
    this.#stopped = true;
    this.#dispatchError([error.toEntry()], false);
    if (this.#sentCode === 0) {
      this.#sentCode = error.closeCode;
      this.#sentReason = error.closeReason(this.#settings.side);
    }
  };

  /**
   * A connection that could not be made: `onError`, then `onTerminate` with
   * 1006 at once. Node's WebSocket (undici) fires `error` and never `close`
   * for it, so the session ends here on every runtime.
   */
  #connectionFailed(event: Event): void {
    const why = failureReason(event);
    const reconnect = this.#settings.reconnect;
    let tries = "";
    if (reconnect !== undefined) {
      if (this.#retry(reconnect, "failed", why)) return;
      const count = reconnect.failures;
      tries = ` after ${count} ${count === 1 ? "try" : "tries"}`;
    }
    this.#failed = true;
    this.#dispatchError(
      this.#withDropped([
        wsError(
          ErrorCode.ConnectionFailed,
          `Cannot connect to ${
            this.#settings.url ?? "the server"
          }${tries}: ${why}`,
          event,
        ),
      ]),
      false,
    );
    this.#stopped = true;
    try {
      this.socket?.close();
    } catch {
      // Already closed by the runtime.
    }
    this.#end(1006, "", false);
  }

  /** Adds the dropped-messages entry (newest first) where messages waited. */
  #withDropped(errors: WSError[]): WSError[] {
    const outbox = this.#outbox;
    if (outbox !== null && outbox.length > 0) {
      this.#outbox = null;
      errors.unshift(
        wsError(
          ErrorCode.MessagesDropped,
          `Cannot send ${outbox.length} queued message(s): the client ended before a connection opened`,
        ),
      );
    }
    return errors;
  }

  #onClose = (event: CloseEvent): void => {
    if (this.#ended) return;
    if (this.status === "Connecting" && !this.#failed) {
      // Closed before it opened with no error event first (some runtimes).
      this.#connectionFailed(event);
      return;
    } else if (
      !this.#failed && this.#outbox !== null && this.#outbox.length > 0
    ) {
      // Terminated while connecting: no connection error, but messages lost.
      this.#failed = true;
      this.#dispatchError(this.#withDropped([]), false);
    }
    let code = normaliseCloseCode(event.code);
    let reason = event.reason;
    // We closed first and the peer broke the handshake (Deno cuts on a data
    // frame after its close frame), or answered with no code (as a Deno
    // server socket reports it when `deno serve` shuts down with 1001), or
    // the socket failed a peer that broke the protocol: the connection ended
    // with the code we sent, not a mere break.
    if ((code === 1006 || code === 1005) && this.#sentCode !== 0) {
      code = this.#sentCode;
      reason = this.#sentReason;
    } else if (
      this.#server && code === 1006 && this.#link !== null &&
      this.status === "Connected" && !this.#failed
    ) {
      this.#broken();
      return;
    } else if (
      this.status === "Connected" && !this.#failed &&
      this.#settings.reconnect !== undefined &&
      this.#retry(this.#settings.reconnect, code, reason)
    ) {
      return;
    }
    this.#end(code, reason, event.wasClean);
  };

  /**
   * A client with `reconnect` lost its connection, or could not make it:
   * when the case is retried and tries are left, it lets the socket go,
   * says why and when in `onReconnecting`, and waits `"Connecting"`.
   *
   * @returns Whether it will connect again.
   */
  #retry(
    reconnect: Reconnector,
    code: number | "failed",
    reason: string,
  ): boolean {
    const delay = reconnect.next(code, reason);
    if (delay === null) return false;
    const socket = this.socket;
    if (socket !== null) {
      this.#detach(socket);
      try {
        // Node's WebSocket (undici) never closes a socket that failed.
        socket.close();
      } catch {
        // Closed already.
      }
    }
    this.socket = null;
    this.status = "Connecting";
    this.#stopped = false;
    this.#budget = 0;
    const link = this.#link;
    if (link !== null) {
      if (this.#linked) this.#brokeAt = performance.now();
      else if (this.#probing || this.#declining) {
        // Resuming was not active on it: nothing to send again.
        link.state = new ResumeState<Encoded>();
      }
    }
    this.#linked = this.#probing = this.#declining = false;
    // Set before onReconnecting runs: a terminate() in it ends the wait.
    this.#retryTimer = setTimeout(this.#connectAgain, delay * 1000);
    this.push("onReconnecting", {
      type: "reconnecting",
      code: code === "failed" ? 1006 : code,
      reason,
      attempt: reconnect.attempt,
      delay,
    });
    return true;
  }

  /** The wait is over: the next try, on a new socket. */
  #connectAgain = (): void => {
    this.#retryTimer = undefined;
    let socket: WebSocket;
    try {
      socket = (this.#settings.reconnect as Reconnector).connect();
    } catch (error) {
      // The runtime refused to make it: a try that failed.
      this.#connectionFailed(Object.assign(new Event("error"), { error }));
      return;
    }
    this.attach(socket);
  };

  /**
   * Ends a client that waits between two connections (its `terminate()`, or
   * a fatal error in `onReconnecting`): at once, with the code it closes with.
   */
  #endWaiting(): void {
    if (!this.#failed && this.#outbox !== null && this.#outbox.length > 0) {
      this.#failed = true;
      this.#dispatchError(this.#withDropped([]), false);
    }
    this.#end(this.#sentCode, this.#sentReason, false);
  }

  #end(code: number, reason: string, wasClean: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    const stats = this.#settings.stats;
    if (stats !== undefined) {
      stats.closes[code] = (stats.closes[code] ?? 0) + 1;
    }
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
    this.#stopWaiting(); // A session waiting for its client ends.
    if (this.#pendingClose !== undefined) {
      // Given up before its deferred close ran: close it now, the peer is told.
      this.#closeNow(this.#sentCode || 1000, this.#sentReason);
    }
    this.#leave("Closed");
    const socket = this.socket;
    if (socket !== null) this.#detach(socket);
    this.push(
      "onTerminate",
      this.#server
        ? { type: "terminate", code, reason }
        : { type: "terminate", code, reason, wasClean },
    );
    const settings = this.#settings;
    if (settings.onDone !== undefined) {
      this.after(() => settings.onDone?.(this));
    }
  }
}

/**
 * Why a connection could not be made, as the runtime says it: Deno's and
 * Bun's `ErrorEvent.message` ("Invalid status code: 403", "tcp connect
 * error …"), undici's `event.error`; a browser says nothing.
 */
function failureReason(event: Event): string {
  const { message, error } = event as Partial<ErrorEvent>;
  if (typeof message === "string" && message !== "") return message;
  if (error instanceof Error && error.message !== "") {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error && cause.message !== ""
      ? `${error.message} (${cause.message})`
      : error.message;
  }
  if (event.type === "close") {
    const { code, reason } = event as CloseEvent;
    return `closed before it opened (code ${code}${
      reason ? `, ${reason}` : ""
    })`;
  }
  return "the connection failed (the runtime gives no reason)";
}

/** Counts `onError` entries by `ErrorCode` name. */
export function countErrors(
  stats: WSServerCounts,
  errors: readonly WSError[],
): void {
  for (const { errCode } of errors) {
    const name = ERROR_NAMES[errCode];
    stats.errors[name] = (stats.errors[name] ?? 0) + 1;
  }
}

/** The limit each error hits, where it is one. */
const LIMIT_OF: Partial<Record<number, WSLimitName>> = {
  [ErrorCode.RateLimited]: "rateLimit",
  [ErrorCode.MessageTooLarge]: "maxMessageSize",
  [ErrorCode.SlowConsumer]: "maxBufferedAmount",
};

/** Counts the limits that `errors` say were hit. */
function countLimits(stats: WSServerCounts, errors: readonly WSError[]): void {
  for (const { errCode } of errors) {
    const limit = LIMIT_OF[errCode];
    if (limit !== undefined) stats.limits[limit]++;
  }
}

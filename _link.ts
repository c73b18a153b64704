// This module is browser compatible.
/**
 * The link between a session and what carries its frames: the
 * {@linkcode Link} a session sends and closes through, the
 * {@linkcode LinkReceiver} it receives through, and {@linkcode SocketLink},
 * the one link over a WHATWG `WebSocket` (a Deno server socket, or the
 * client's runtime socket). Every quirk of the socket lives here: the
 * `binaryType`, its listeners, Deno's deferred close, the close a server
 * socket cannot make before it opens, the close code 0, a close reported
 * twice, and why a connection could not be made as each runtime says it.
 * A session cannot tell a socket from any other link that carries frames.
 *
 * @module
 */
import type { Encoded, Frame } from "./_codec.ts";
import { socketFailure, type Ws4dError } from "./_errors.ts";

/** An error the transport reported (the link stays, its close follows). */
export interface LinkFault {
  /** Why, as the transport says it: for a connection that could not be made. */
  readonly reason: string;
  /**
   * The fatal error of a peer that broke the protocol, once open; `null`
   * for a break (its close says 1006).
   */
  readonly failure: Ws4dError | null;
  /** The transport's own event, the cause of a connection error. */
  readonly cause: unknown;
}

/** How a link ended. */
export interface LinkEnd {
  /** A valid close code: 1006 for a break (RFC 6455 §7.1.5). */
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  /** The same end told as a connection that could not be made. */
  readonly failure: string;
  /** The transport's own event. */
  readonly cause: unknown;
}

/** What a link delivers to, in order: open, frames, faults, one end. */
export interface LinkReceiver {
  /** The link is open: frames may be sent. */
  linkOpened(): void;
  /** A frame from the peer: text, or the bytes of a binary frame. */
  linkReceived(frame: Frame): void;
  /** The transport reported an error; its end follows. */
  linkFaulted(fault: LinkFault): void;
  /** The link ended: nothing more comes from it. */
  linkClosed(end: LinkEnd): void;
}

/**
 * What carries a session's frames: a socket on this instance, or anything
 * else that moves frames both ways in order (a relay through a backplane).
 */
export interface Link {
  /** The subprotocol the handshake chose, or `""`. */
  readonly protocol: string;
  /** Bytes handed to `send` that have not gone out. */
  readonly bufferedAmount: number;
  /** Delivers what happens from now on to `receiver` (one at a time). */
  listen(receiver: LinkReceiver): void;
  /** Sends one frame (a `string` goes as text, anything else as binary). */
  send(frame: Encoded): void;
  /** Closes with `code` soon, after what was sent; again does nothing. */
  close(code: number, reason: string): void;
  /** Closes now, a close on its way included; never throws. */
  abort(code?: number, reason?: string): void;
  /** Delivers nothing more; a close on its way goes now. */
  release(): void;
}

/**
 * A valid close code for `onTerminate`: Deno reports 0 for a broken
 * connection, where browsers report 1006 (RFC 6455 §7.1.5).
 */
export function normaliseCloseCode(code: number | undefined): number {
  if (code === undefined || code === 0) return 1006;
  return code;
}

/**
 * An event of a socket, as its listener reads it: a `message` event has
 * `data` (a frame: `binaryType` is "arraybuffer"), an `error` event may have
 * `message` and `error`, a `close` event has `code`, `reason` and
 * `wasClean`. Typed on the listener (`handleEvent`), it takes the place of
 * a cast per event; what a field holds is still checked where it is read.
 */
export type SocketEvent =
  & Event
  & Partial<Pick<MessageEvent<Frame>, "data">>
  & Partial<Pick<ErrorEvent, "message">>
  & { readonly error?: unknown }
  & Partial<Pick<CloseEvent, "code" | "reason" | "wasClean">>;

/**
 * Why a connection could not be made, as the runtime says it: Deno's and
 * Bun's `ErrorEvent.message` ("Invalid status code: 403", "tcp connect
 * error ..."), undici's `event.error`; a browser says nothing.
 */
export function failureReason(event: SocketEvent): string {
  const { message, error } = event;
  if (typeof message === "string" && message !== "") return message;
  if (error instanceof Error && error.message !== "") {
    const cause = error.cause;
    return cause instanceof Error && cause.message !== ""
      ? `${error.message} (${cause.message})`
      : error.message;
  }
  if (event.type === "close") {
    const { code, reason } = event;
    return `closed before it opened (code ${code}${
      reason ? `, ${reason}` : ""
    })`;
  }
  return "the connection failed (the runtime gives no reason)";
}

/** The fault of a socket the runtime refused to make (`new WebSocket` threw). */
export function refusedFault(error: unknown): LinkFault {
  const event = Object.assign(new Event("error"), { error });
  return { reason: failureReason(event), failure: null, cause: event };
}

const CONNECTING = 0;

/**
 * A {@linkcode Link} over a WHATWG `WebSocket`. It listens with itself as
 * the listener object (no closure per connection).
 */
export class SocketLink implements Link {
  readonly #socket: WebSocket;
  #receiver: LinkReceiver | null = null;
  /** The close of a socket that could not close yet, or is deferred. */
  #closing: [number | undefined, string | undefined] | null = null;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The end was delivered (Deno may report a close twice). */
  #ended = false;
  /** A server socket, which cannot close before it opens. */
  readonly #server: boolean;

  /**
   * Drives `socket`; nothing is delivered before {@linkcode listen}.
   *
   * @param server A socket of `Deno.upgradeWebSocket`: a close asked for
   * before it opens waits for its open.
   */
  constructor(socket: WebSocket, server: boolean) {
    this.#socket = socket;
    this.#server = server;
    // Browsers default to "blob", Deno to "arraybuffer": one input for the codec.
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", this);
    socket.addEventListener("message", this);
    socket.addEventListener("error", this);
    socket.addEventListener("close", this);
  }

  get protocol(): string {
    return this.#socket.protocol;
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  listen(receiver: LinkReceiver): void {
    this.#receiver = receiver;
  }

  /** The socket's events, to the receiver. */
  handleEvent(event: SocketEvent): void {
    const receiver = this.#receiver;
    if (receiver === null) return;
    // A message first, without reading `type` (a getter): only a
    // MessageEvent has `data`, and its data is never undefined.
    const data = event.data;
    if (data !== undefined) {
      receiver.linkReceived(data);
      return;
    }
    switch (event.type) {
      case "open":
        // A server socket cannot close before it opens: its close waits.
        if (this.#closing !== null) this.#closeSoon();
        receiver.linkOpened();
        return;
      case "error": {
        // Deno's engine has failed the connection (it cuts the TCP, with no
        // close frame): a protocol error of the peer is a fatal error.
        const message = event.message;
        receiver.linkFaulted({
          reason: failureReason(event),
          failure: typeof message === "string" ? socketFailure(message) : null,
          cause: event,
        });
        return;
      }
      case "close": {
        if (this.#ended) return;
        this.#ended = true;
        const { code, reason = "", wasClean = false } = event;
        receiver.linkClosed({
          code: normaliseCloseCode(code),
          reason,
          wasClean,
          failure: failureReason(event),
          cause: event,
        });
      }
    }
  }

  send(frame: Encoded): void {
    // The one cast at the boundary: the DOM lib (the browser check) types
    // `send` without views over a SharedArrayBuffer, which `Encoded` may
    // hold (a user's bytes); the runtime judges them (Deno sends them), as
    // it always did. No cost: a type, not a call.
    this.#socket.send(frame as Parameters<WebSocket["send"]>[0]);
  }

  /**
   * Closes the socket a task later. Deno cuts the TCP before the close frame
   * goes out when a server socket is closed inside its `message` event while
   * more frames wait (the peer sees 1006); a task later the peer gets the
   * code, whatever was buffered (issue 11, point 4).
   */
  close(code: number, reason: string): void {
    if (this.#closing !== null) return;
    this.#closing = [code, reason];
    if (!this.#server || this.#socket.readyState !== CONNECTING) {
      this.#closeSoon();
    }
  }

  #closeSoon(): void {
    if (this.#closeTimer !== undefined) return;
    // The callback is made here, not per link: most links never close first.
    this.#closeTimer = setTimeout(() => this.#closeNow(), 0);
  }

  #closeNow(): void {
    const closing = this.#closing;
    if (closing !== null) this.abort(closing[0], closing[1]);
  }

  abort(code?: number, reason?: string): void {
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#closing ??= [code, reason];
    try {
      this.#socket.close(code, reason);
    } catch {
      // A socket that cannot close any more is closing already.
    }
  }

  release(): void {
    // Given up before its deferred close ran: close it now, the peer is told.
    if (this.#closeTimer !== undefined) this.#closeNow();
    this.#receiver = null;
  }
}

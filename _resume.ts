// This module is browser compatible.
/**
 * Resuming (SPEC.md, "Resuming"): the layer between a session and its
 * link, on the session's path both ways. It keeps what goes out, reads the
 * control frames out of what comes in, and carries the session over a
 * break, with its own phase ({@linkcode ResumePhase}). Its wire format is
 * `_resume_handshake.ts` (the token, the negotiation) and
 * `_resume_frames.ts` (the control frames); its state, `_resume_state.ts`.
 *
 * The protocol's design is `_resume_frames.ts`'s module doc.
 *
 * @module
 */
import { type Encoded, type Frame, frameSize, sizeOf } from "./_codec.ts";
import { ErrorCode, Ws4dError } from "./_errors.ts";
import type { ResumeLimits } from "./_resume_options.ts";
import {
  type ControlFrame,
  encodeAnswer,
  encodeControl,
  type HelloFrame,
  readAnswer,
  readHello,
  unwrapFrame,
  unwrapKept,
  wrapUserData,
} from "./_resume_frames.ts";
import { offerProtocols, RESUME_PROTOCOL } from "./_resume_handshake.ts";
import { ResumeState } from "./_resume_state.ts";
import type { ResumeHost, ResumePhase } from "./_resume_host.ts";
export type { ResumeHost, ResumePhase } from "./_resume_host.ts";
import type { WSServerCounts } from "./_stats.ts";

import { DEFAULTS } from "./_options.ts";
/**
 * While messages arrive, each side acknowledges at least this often (ms),
 * whatever the limits: what a lost instance makes its peer send again is
 * at most what was in flight (docs/cluster.md). One timer per session per
 * period, armed by the first message after an ack; nothing per message.
 */
export const ACK_EVERY_MS = 100;

/** The defaults of the server option `resume` (`DEFAULTS.resume`). */
export const RESUME_DEFAULTS: ResumeLimits = DEFAULTS.resume;

function resumeError(what: string): Ws4dError {
  return new Ws4dError(ErrorCode.ProtocolError, `Cannot resume: ${what}`);
}

/**
 * One session's resuming, server or client: its token, its state, its
 * phase, and the timer of a broken server session. The session calls it
 * on each of its paths (open, receive, send, break); it answers through
 * the session's link and its {@linkcode ResumeHost} methods.
 */
export class Resumption {
  /** The kept frames (wrapped, as sent) and the counts. */
  state: ResumeState<Encoded>;
  /** The session's token ("" for a client before a server's hello). */
  token: string;
  #phase: ResumePhase;
  readonly #server: boolean;
  /** The server's counters (server only). */
  readonly #stats: WSServerCounts | undefined;
  /** When a client's linked link broke (ms): its token lasts `window`. */
  #brokeAt = 0;
  /** A broken server session waits this long for its client. */
  #windowTimer: ReturnType<typeof setTimeout> | undefined;
  /** The count a resuming client offered, for the new link's open. */
  #resumeFrom = 0;
  /** Sends the ack owed, {@linkcode ACK_EVERY_MS} after a message. */
  #ackTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(
    server: boolean,
    state: ResumeState<Encoded>,
    token: string,
    phase: ResumePhase,
    stats: WSServerCounts | undefined,
  ) {
    this.#server = server;
    this.#stats = stats;
    this.state = state;
    this.token = token;
    this.#phase = phase;
  }

  /**
   * A server session that negotiated resuming: `accepted` where the client
   * offered in the subprotocols (it knows at open), not where it offered in
   * the query (the session is its once it accepts the hello).
   */
  static server(
    limits: ResumeLimits,
    token: string,
    accepted: boolean,
    stats: WSServerCounts | undefined,
  ): Resumption {
    return new Resumption(
      true,
      new ResumeState<Encoded>(limits),
      token,
      accepted ? "unlinked" : "unaccepted",
      stats,
    );
  }

  /** A client that offers resuming, for its life. */
  static client(): Resumption {
    return new Resumption(
      false,
      new ResumeState<Encoded>(),
      "",
      "unlinked",
      undefined,
    );
  }

  /** Where it stands. */
  get phase(): ResumePhase {
    return this.#phase;
  }

  /** A broken server session waits for its client. */
  get waiting(): boolean {
    return this.#windowTimer !== undefined;
  }

  /**
   * What a client offers on its next try: the subprotocols that carry its
   * session's token, or `null` for a fresh offer, in the query. The token
   * is offered only within the `window` of the server's hello after the
   * break: a server gone without `resume` would fail each handshake that
   * offers a subprotocol (browsers, Node, Bun), and past the window the
   * session is over anyway.
   */
  offer(): string[] | null {
    if (
      this.token !== "" &&
      performance.now() > this.state.windowDeadline(this.#brokeAt)
    ) {
      this.token = ""; // At open, what it had not acknowledged goes first.
    }
    if (this.token === "") {
      this.#phase = "querying";
      return null;
    }
    this.#phase = "offered";
    return offerProtocols({ token: this.token, received: this.state.received });
  }

  /**
   * The session's link opened. A server sends its hello. A client that
   * offered its token waits for the server's (`null`); else the server
   * does not resume this link, or may (a query offer): what the old
   * session had not acknowledged goes again first (returned, as the user
   * gave it), and after a query offer the client sends as it is and keeps
   * what it sends until the server's first frame tells.
   */
  opened(host: ResumeHost): Encoded[] | null {
    const link = host.link;
    if (link === null) return [];
    if (this.#server) {
      link.send(encodeControl({
        type: "hello",
        resumed: false,
        received: 0,
        limits: this.state.limits,
        token: this.token,
      }));
      if (this.#phase === "unlinked") this.#phase = "linked";
      return [];
    }
    if (link.protocol === RESUME_PROTOCOL) return null;
    // A fresh offer in the query, or a server that chose no subprotocol
    // (Deno opens anyway).
    const kept = this.state.takeUnacknowledged();
    this.state = new ResumeState<Encoded>();
    this.token = "";
    this.#phase = this.#phase === "offered" ? "plain" : "probing";
    return kept.map(unwrapKept);
  }

  /**
   * A resumed server link opened: the hello, then the messages the client
   * did not receive. Returns `false` for any other open.
   */
  reopened(host: ResumeHost): boolean {
    if (this.#phase !== "resuming") return false;
    const link = host.link;
    if (link === null) return true;
    const frames = this.state.resumeFrom(this.#resumeFrom);
    if (frames === null) {
      // Ended (or closing) between the handshake and the open.
      link.release();
      link.abort(1000, "");
      return true;
    }
    link.send(encodeControl({
      type: "hello",
      resumed: true,
      received: this.state.received,
      limits: this.state.limits,
      token: this.token,
    }));
    for (const frame of frames) link.send(frame);
    this.#phase = "linked";
    host.relinked();
    return true;
  }

  /** A frame from the link, read as the phase says. */
  received(frame: Frame, host: ResumeHost): void {
    switch (this.#phase) {
      case "linked":
      case "offered":
      case "querying":
        this.#receiveResumable(frame, host);
        return;
      case "unaccepted":
        this.#receiveUnaccepted(frame, host);
        return;
      case "probing":
      case "refusing":
        this.#receiveProbe(frame, host);
        return;
      case "declining":
        this.#receiveDeclining(frame, host);
        return;
      default:
        host.receivePlain(frame);
    }
  }

  /** Control frames taken out; data messages counted and acknowledged. */
  #receiveResumable(frame: Frame, host: ResumeHost): void {
    const unwrapped = unwrapFrame(frame);
    if (typeof unwrapped === "string" || unwrapped instanceof ArrayBuffer) {
      if (this.#phase !== "linked") {
        host.fail(resumeError("a data message came before hello"), false);
        return;
      }
      this.#receiveCounted(unwrapped, host);
    } else if (unwrapped instanceof Ws4dError) {
      host.fail(unwrapped, false);
    } else {
      this.#onControl(unwrapped, host);
    }
  }

  /** A data message of a resumable session: rate limit, count, ack, deliver. */
  #receiveCounted(frame: Frame, host: ResumeHost): void {
    const size = frameSize(frame);
    if (!host.admit(size)) return;
    if (this.state.countReceived(size)) {
      this.#sendAck(host);
    } else if (this.#ackTimer === undefined) {
      this.#ackTimer = setTimeout(() => {
        this.#ackTimer = undefined;
        if (this.#phase === "linked" && this.state.ackPending) {
          this.#sendAck(host);
        }
      }, ACK_EVERY_MS);
    }
    host.deliver(frame);
  }

  /** Acknowledges what was received so far. */
  #sendAck(host: ResumeHost): void {
    host.link?.send(
      encodeControl({ type: "ack", received: this.state.takeAck() }),
    );
  }

  /**
   * A server session offered in the query, before the client accepts it:
   * the client's frames are data as they are, but for its answer to the
   * hello, which carries the token.
   */
  #receiveUnaccepted(frame: Frame, host: ResumeHost): void {
    const answer = readAnswer(frame, this.token);
    if (answer === null) {
      this.#receiveCounted(frame, host);
    } else if (answer === "accept") {
      this.#phase = "linked";
    } else {
      // Declined: plain from here on, both ways, and nothing kept.
      const link = host.link;
      host.unresumable();
      link?.send(encodeControl({ type: "declined" }));
    }
  }

  /**
   * A client's first frame after a query offer: the server's hello (it
   * resumes: the client accepts, or declines where it kept nothing), or
   * anything else (it does not: plain from here on, that frame included).
   */
  #receiveProbe(frame: Frame, host: ResumeHost): void {
    const link = host.link;
    const hello = readHello(frame);
    if (hello !== null && !hello.resumed) {
      if (this.#phase === "refusing") {
        link?.send(encodeAnswer("decline", hello.token));
        this.#phase = "declining";
        return;
      }
      this.token = hello.token;
      this.state.limits = hello.limits;
      link?.send(encodeAnswer("accept", hello.token));
      this.#phase = "linked";
      return;
    }
    // A server that does not resume: nothing to keep for it.
    this.state = new ResumeState<Encoded>();
    this.#phase = "plain";
    host.deliver(frame);
  }

  /** A client that declined: the server's frames, until its `declined`. */
  #receiveDeclining(frame: Frame, host: ResumeHost): void {
    const unwrapped = unwrapFrame(frame);
    if (typeof unwrapped === "string" || unwrapped instanceof ArrayBuffer) {
      host.deliver(unwrapped);
    } else if (unwrapped instanceof Ws4dError) {
      host.fail(unwrapped, false);
    } else if (unwrapped.type === "declined") {
      this.#phase = "plain";
    } else if (unwrapped.type !== "ack") {
      host.fail(resumeError("an unexpected hello"), false);
    }
  }

  #onControl(control: ControlFrame, host: ResumeHost): void {
    if (control.type === "ack") {
      if (!this.state.acknowledge(control.received)) {
        host.fail(
          resumeError(`an ack of ${control.received} messages is out of range`),
          false,
        );
      }
    } else if (
      this.#server || this.#phase === "linked" || control.type !== "hello"
    ) {
      host.fail(resumeError(`an unexpected ${control.type}`), false);
    } else {
      this.#onHello(control, host);
    }
  }

  /** The server's hello reached a client that offered resuming. */
  #onHello(hello: HelloFrame, host: ResumeHost): void {
    let frames: Encoded[] | null;
    if (hello.resumed) {
      frames = this.#phase === "offered" && hello.token === this.token
        ? this.state.resumeFrom(hello.received)
        : null;
      if (frames === null) {
        host.fail(
          resumeError(
            `the server resumed from ${hello.received} messages, not a count this client can resume from`,
          ),
          true,
        );
        return;
      }
      this.state.limits = hello.limits;
    } else {
      // A fresh session: what the old one had not acknowledged goes first.
      frames = this.state.takeUnacknowledged();
      this.state = new ResumeState<Encoded>(hello.limits);
      for (const frame of frames) {
        this.state.keep(frame, sizeOf(unwrapKept(frame)));
      }
    }
    this.token = hello.token;
    const link = host.link;
    if (link !== null) { for (const frame of frames) link.send(frame); }
    this.#phase = "linked";
    host.opened(hello.resumed);
  }

  /** A data message to send: kept, wrapped, sent as the phase says. */
  write(data: Encoded, host: ResumeHost): void {
    const phase = this.#phase;
    if (phase === "linked" || phase === "unaccepted") {
      const state = this.state;
      const frame = wrapUserData(data);
      state.keep(frame, sizeOf(data));
      host.transmit(frame, data);
      if (state.overLimits && host.delivering) {
        const { maxMessages, maxBytes } = state.limits;
        host.slowConsumer(
          `Cannot send message: the peer acknowledged none of the last ${state.keptMessages} messages (${state.keptBytes} bytes), resume allows ${maxMessages} messages and ${maxBytes} bytes`,
        );
      }
    } else if (phase === "probing") {
      // The server reads a client's frames as they are until it accepts.
      const state = this.state;
      state.keep(wrapUserData(data), sizeOf(data));
      host.transmit(data, data);
      if (state.overLimits) {
        // No hello yet, past the default limits: keep nothing more.
        this.state = new ResumeState<Encoded>();
        this.#phase = "refusing";
      }
    } else if (this.#server) {
      // Between two links: kept only, until the client comes back.
      const state = this.state;
      state.keep(wrapUserData(data), sizeOf(data));
      if (state.overLimits && !host.closed) {
        // A broken session kept more than its limits: it ends (deferred, as
        // a broadcast may call this inside another connection's callback).
        queueMicrotask(() => {
          const stats = this.#stats;
          if (stats !== undefined && !host.closed) {
            stats.sessionsExpired.limits++;
          }
          host.abandon();
        });
      }
    } else {
      host.transmit(data, data);
    }
  }

  /** The ack timer stops (the link is gone, or the session ended). */
  #stopAcking(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
  }

  /** A server session lost its link with no close: it waits `window`. */
  broke(host: ResumeHost): void {
    this.#stopAcking();
    this.#phase = "unlinked";
    const stats = this.#stats;
    if (this.state.overLimits) {
      if (stats !== undefined) stats.sessionsExpired.limits++;
      host.abandon();
      return;
    }
    // Back down in stopWaiting: resumed, window passed, or ended.
    if (stats !== undefined) stats.sessionsWaiting++;
    this.#windowTimer = setTimeout(() => {
      this.stopWaiting();
      if (stats !== undefined) stats.sessionsExpired.window++;
      host.abandon();
    }, this.state.limits.window * 1000);
  }

  /**
   * A broken server session stops waiting for its client (resumed, window
   * passed, ended): the window's timer and the `sessionsWaiting` gauge.
   */
  stopWaiting(): void {
    this.#stopAcking();
    if (this.#windowTimer === undefined) return;
    clearTimeout(this.#windowTimer);
    this.#windowTimer = undefined;
    const stats = this.#stats;
    if (stats !== undefined) stats.sessionsWaiting--;
  }

  /**
   * A server session's client came back, having received `peerReceived`:
   * its token came back, so it reads the session's frames; at the new
   * link's open, {@linkcode Resumption.reopened}.
   */
  resumeWith(peerReceived: number): void {
    this.stopWaiting();
    this.#resumeFrom = peerReceived;
    this.#phase = "resuming";
  }

  /** A client lets its link go to try again. */
  retried(): void {
    this.#stopAcking();
    const phase = this.#phase;
    if (phase === "linked") this.#brokeAt = performance.now();
    else if (
      phase === "probing" || phase === "refusing" || phase === "declining"
    ) {
      // Resuming was not active on it: nothing to send again.
      this.state = new ResumeState<Encoded>();
    }
    this.#phase = "unlinked";
  }
}

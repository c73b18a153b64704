// This module is browser compatible.
/**
 * The event sequence that a server-side connection and the client share
 * (SPEC.md, "Callbacks"): one `Session` that drives a {@linkcode Link}
 * through open -> messages -> error? -> terminate once. Its lifecycle is one
 * value ({@linkcode Phase}); what it receives takes one path, which
 * dispatches on it; resuming, where on, is the layer of `_resume.ts` on
 * that path both ways.
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
import { callbackFailed, ErrorCode, Ws4dError } from "./_errors.ts";
import type { Link, LinkEnd, LinkFault, LinkReceiver } from "./_link.ts";
import { CallbackQueue } from "./_queue.ts";
import type { ResumeHost, Resumption } from "./_resume.ts";
import { hasFailed, type Phase, STATUS } from "./_phase.ts";
import {
  connectionFailure,
  errorEvent,
  failedPhase,
  giveUpAfter,
  noteClose,
  type SentClose,
  sentInstead,
  stopGivingUp,
  terminateEvent,
} from "./_session_end.ts";
import type { SessionSettings } from "./_session_settings.ts";
import type { WSClientStatus, WSError } from "./_types.ts";

const OPEN = Object.freeze({ type: "open" as const });

/**
 * One connection's life, as both the connection and the client see it. It
 * owns its link's use, the lifecycle, the codec calls and fatal errors.
 */
export class Session<T> extends CallbackQueue<T>
  implements LinkReceiver, ResumeHost {
  #phase: Phase = "connecting";
  /** What carries the frames now (a client between two tries has none). */
  #link: Link | null = null;
  readonly #settings: SessionSettings<T>;
  /** Resuming, where negotiated (server) or offered (client); else null. */
  #resume: Resumption | null;
  /** The close we sent and its give-up timer; null until one (`_session_end.ts`). */
  #sent: SentClose | null = null;
  /**
   * Bytes that may still be sent before `bufferedAmount` could pass
   * `maxBufferedAmount`: reading `bufferedAmount` costs a call into Deno, so
   * it is read only once the bytes sent since the last reading could have
   * taken it over the limit.
   */
  #budget = 0;

  /** The owner sets `target` before it attaches a link. */
  constructor(
    handler: object,
    settings: SessionSettings<T>,
    resume: Resumption | null = null,
  ) {
    // One object per connection: the session is its own callback queue.
    super(handler);
    this.#settings = settings;
    this.#resume = resume;
  }

  /** `"Connecting"`, `"Connected"`, `"Closing"` or `"Closed"`. */
  get status(): WSClientStatus {
    return STATUS[this.#phase];
  }

  /** What the session was given (its side's settings and its owner). */
  protected get settings(): SessionSettings<T> {
    return this.#settings;
  }

  /** The lifecycle's value. */
  get phase(): Phase {
    return this.#phase;
  }

  /** What carries the frames now, or `null`. */
  get link(): Link | null {
    return this.#link;
  }

  /** The session's resuming, or null. */
  get resumption(): Resumption | null {
    return this.#resume;
  }

  /** Receives from `link`; the session drives it from now on. */
  attach(link: Link): void {
    this.#link = link;
    link.listen(this);
  }

  // -------------------------------------------------------------------------
  // What the link delivers

  linkOpened(): void {
    const phase = this.#phase;
    if (phase === "closed") return;
    const resume = this.#resume;
    if (resume !== null && resume.reopened(this)) return;
    // Closed before it opened: the link closes itself at its open.
    if (phase !== "connecting") return;
    if (resume !== null) {
      const kept = resume.opened(this);
      if (kept === null) return; // The server's hello comes first.
      if (kept.length > 0) this.queueFirst?.(kept);
    }
    this.opened(false);
  }

  /** The one receive path: a frame, by the phase and resuming's phase. */
  linkReceived(frame: Frame): void {
    const phase = this.#phase;
    if (phase !== "open" && phase !== "connecting") return;
    if (this.#resume !== null) this.#resume.received(frame, this);
    else this.receivePlain(frame);
  }

  linkFaulted(fault: LinkFault): void {
    const phase = this.#phase;
    if (phase === "connecting") {
      this.connectionFailed(fault.reason, fault.cause);
      return;
    }
    if (phase !== "open" && phase !== "closing") return;
    const error = fault.failure;
    if (error === null) return; // A break: onTerminate says 1006.
    this.#phase = phase === "open" ? "faulted" : "failing";
    this.#dispatchError([error.toEntry()], false);
    this.#sent ??= noteClose(
      null,
      error.closeCode,
      error.closeReason(this.#settings.side),
    );
  }

  linkClosed(end: LinkEnd): void {
    const phase = this.#phase;
    if (phase === "closed") return;
    if (phase === "connecting") {
      // Closed before it opened with no error event first (some runtimes).
      this.connectionFailed(end.failure, end.cause);
      return;
    }
    // Terminated while connecting: no connection error, but messages lost.
    if (phase === "closing") this.#reportDropped();
    const sent = sentInstead(end, this.#sent);
    const { code, reason } = sent ?? end;
    if (sent === null && phase === "open") {
      if (
        code === 1006 && this.#resume !== null &&
        this.#settings.side === "server"
      ) {
        // A break of a server session: it waits for its client.
        this.#link?.release(); // Nothing it does reaches the session now.
        this.#link = null;
        this.#resume.broke(this);
        return;
      }
      if (this.retry?.(code, reason) === true) return;
    }
    this.#end(code, reason, end.wasClean);
  }

  // -------------------------------------------------------------------------
  // What the resume layer asks of its session (ResumeHost)

  /** Whether messages are still delivered (open, or a client opening). */
  get delivering(): boolean {
    return this.#phase === "open" || this.#phase === "connecting";
  }

  /** Whether `onTerminate` was dispatched. */
  get closed(): boolean {
    return this.#phase === "closed";
  }

  /** Whether a message of `size` passes `rateLimit` (a server's). */
  admit(_size: number): boolean {
    return true;
  }

  /** A data message without resuming (behind a server's `rateLimit`). */
  receivePlain(frame: Frame): void {
    this.deliver(frame);
  }

  /** A data message: counted, decoded, handed to `onMessage`. */
  deliver(frame: Frame): void {
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

  /** Sends `wire` (the frame of `data`) on the link and counts it. */
  transmit(wire: Encoded, data: Encoded): void {
    const link = this.#link;
    if (link === null) return;
    link.send(wire);
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
      const amount = link.bufferedAmount;
      const max = this.#settings.maxBufferedAmount;
      if (amount > max) {
        this.slowConsumer(
          `Cannot send message: ${amount} bytes wait to go out, maxBufferedAmount is ${max}`,
        );
      } else this.#budget = max - amount;
    }
  }

  /** The peer is a slow consumer: `onError` (1008) and a close, deferred. */
  slowConsumer(message: string): void {
    this.#leave("closing");
    // Deferred: send() may run inside another connection's callback.
    queueMicrotask(() => {
      if (this.#phase === "closed") return;
      this.#phase = "failing";
      const error = new Ws4dError(ErrorCode.SlowConsumer, message);
      this.#dispatchError([error.toEntry()], true);
      this.#closeFor(error);
    });
  }

  /** A new link carries the session again: the budget starts afresh. */
  relinked(): void {
    this.#budget = 0;
  }

  /** A client's resuming ends for this session (server): plain from here. */
  unresumable(): void {
    this.#settings.owner.unresumable?.(this);
    this.#resume = null;
  }

  // -------------------------------------------------------------------------
  // Sending

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
    if (STATUS[this.#phase] !== "Connected") return this.queue?.(data) ?? false;
    this.write(data);
    return true;
  }

  /** Sends an already encoded message (broadcast); false if not open. */
  sendEncoded(data: Encoded): boolean {
    if (STATUS[this.#phase] !== "Connected") return false;
    this.write(data);
    return true;
  }

  /** Sends `data` on the open link, through resume's layer where it is on. */
  protected write(data: Encoded): void {
    if (this.#resume === null) this.transmit(data, data);
    else this.#resume.write(data, this);
  }

  // -------------------------------------------------------------------------
  // Opening, closing, failing

  /** Connected: the messages queued while connecting go, then `onOpen`. */
  opened(resumed: boolean): void {
    this.#phase = "open";
    this.#settings.owner.connected?.(this);
    this.flushQueued?.();
    this.push("onOpen", this.openEvent?.(resumed) ?? OPEN);
  }

  /**
   * Closes with `code`; the terminate event follows the link's close, or
   * comes `giveUpAfter` ms later if the peer never answers.
   */
  close(
    code: number,
    reason: string,
    giveUpAfter: number | undefined = this.#settings.closeTimeout,
  ): void {
    const status = STATUS[this.#phase];
    if (status === "Closing" || status === "Closed") return;
    this.#leave(hasFailed(this.#phase) ? "failing" : "closing");
    this.#sendClose(code, reason, giveUpAfter);
  }

  /**
   * Notes the close, gives the connection up `giveUpAfter` ms later if the
   * peer neither answers nor cuts (Deno keeps such a socket closing), and
   * closes the link (deferred by it), or ends a session that has none.
   */
  #sendClose(code: number, reason: string, ms: number | undefined): void {
    const sent = this.#sent = noteClose(this.#sent, code, reason);
    giveUpAfter(
      sent,
      ms,
      () => this.#end(sent.code || 1006, sent.reason, false),
    );
    const link = this.#link;
    if (link !== null) {
      link.close(code, reason);
      return;
    }
    // A client between two connections, or a broken server session
    // waiting for its client: nothing to close, it ends now.
    if (this.waitsForLink()) this.#endWaiting();
  }

  /**
   * Gives the connection up without waiting for its link any more: it
   * terminates now with 1006 (SPEC.md, `terminate` through `fetch`; a
   * broken session whose window passed, or that kept too much).
   */
  abandon(): void {
    this.#end(1006, "", false);
  }

  /** A fatal error: `onError` once, then a close with the error's code. */
  fail(error: Ws4dError, dropWaiting: boolean): void {
    const phase = this.#phase;
    if (hasFailed(phase) || phase === "closed") {
      this.#settings.owner.fallback([error.toEntry()]);
      return;
    }
    const status = STATUS[phase];
    this.#phase = failedPhase(status);
    const errors = [error.toEntry()];
    this.#dispatchError(
      status === "Connecting" ? this.withDropped?.(errors) ?? errors : errors,
      dropWaiting,
    );
    if (status === "Connected" || status === "Connecting") {
      this.#leave("failing");
      this.#closeFor(error);
    }
  }

  /** Closes with a fatal error's code and reason (a client: 1000). */
  #closeFor(error: Ws4dError): void {
    const code = this.#settings.side === "server" ? error.closeCode : 1000;
    const reason = error.closeReason(this.#settings.side);
    this.#sendClose(code, reason, this.#settings.closeTimeout);
  }

  #dispatchError(errors: WSError[], first: boolean): void {
    const event = errorEvent(this.handler, this.#settings, errors);
    if (event === null) this.#settings.owner.fallback(errors);
    else if (first) this.preempt("onError", event);
    else this.push("onError", event);
  }

  /** A user callback threw or rejected (called by the queue). */
  override callbackFailed(name: string, thrown: unknown): void {
    const error = callbackFailed(name, thrown);
    if (name === "onError" || name === "onTerminate") {
      this.#settings.owner.fallback([error.toEntry()]);
    } else {
      this.fail(error, true);
    }
  }

  /** Moves to `phase`; the owner hears when the status leaves "Connected". */
  #leave(phase: "closing" | "failing" | "closed"): void {
    const was = STATUS[this.#phase];
    this.#phase = phase;
    if (was === "Connected") this.#settings.owner.left?.(this);
  }

  // -------------------------------------------------------------------------
  // What a client does its own way (ClientSession implements these)

  /** A message sent before open (a client queues it; a server's is refused). */
  protected queue?(data: Encoded): boolean;
  /** Messages to send first at open (a client's kept ones). */
  protected queueFirst?(data: Encoded[]): void;
  /** At open, before `onOpen`: what waited goes (a client's queue). */
  protected flushQueued?(): void;
  /**
   * The event of `onOpen` at each open, `resumed` or not (a client's says
   * whether it reconnected, and its reconnect count starts afresh).
   */
  protected openEvent?(resumed: boolean): object;
  /**
   * Adds the dropped-messages entry (newest first) where messages waited
   * (a client's queue), and empties the queue.
   */
  protected withDropped?(errors: WSError[]): WSError[];
  /** Whether the session tries again after this end (a client's reconnect). */
  protected retry?(code: number | "failed", reason: string): boolean;
  /** Stops what waits for the next link (a client's timer). */
  protected stopRetrying?(): void;

  /** Whether the session has no link and waits for one. */
  protected waitsForLink(): boolean {
    return this.#resume?.waiting === true;
  }

  /**
   * A client between two tries: lets the link go (the session waits for its
   * next one), or with `next`, connects again on it.
   */
  protected relink(next: Link | null): void {
    if (next !== null) {
      this.#phase = "connecting";
      this.attach(next);
      return;
    }
    const link = this.#link;
    link?.release();
    link?.abort(); // Node's WebSocket (undici) never closes a failed socket.
    this.#link = null;
    this.#phase = "waiting";
    this.#budget = 0;
    this.#resume?.retried();
  }

  /**
   * A connection that could not be made: `onError`, then `onTerminate` with
   * 1006 at once. Node's WebSocket (undici) fires `error` and never `close`
   * for it, so the session ends here on every runtime.
   *
   * @param tries How many tries failed, said after the URL.
   */
  protected connectionFailed(why: string, cause: unknown, tries = ""): void {
    this.#phase = "refused";
    const error = connectionFailure(this.#settings.url, tries, why, cause);
    this.#dispatchError(this.withDropped?.([error]) ?? [error], false);
    this.#link?.abort();
    this.#end(1006, "", false);
  }

  /**
   * Ends a session that waits between two links (a client's `terminate()`,
   * a fatal error in `onReconnecting`, a server session waiting for its
   * client): at once, with the code it closes with.
   */
  #endWaiting(): void {
    if (!hasFailed(this.#phase)) this.#reportDropped();
    this.#end(this.#sent?.code ?? 0, this.#sent?.reason ?? "", false);
  }

  /** `onError` for the messages a client's queue still held, if any. */
  #reportDropped(): void {
    const dropped = this.withDropped?.([]) ?? [];
    if (dropped.length === 0) return;
    this.#phase = "failing";
    this.#dispatchError(dropped, false);
  }

  #end(code: number, reason: string, wasClean: boolean): void {
    if (this.#phase === "closed") return;
    const event = terminateEvent(this.#settings, code, reason, wasClean);
    if (this.#sent !== null) stopGivingUp(this.#sent);
    this.stopRetrying?.();
    this.#resume?.stopWaiting(); // A session waiting for its client ends.
    this.#leave("closed");
    this.#link?.release();
    this.push("onTerminate", event);
    const owner = this.#settings.owner;
    if (owner.done !== undefined) this.after(() => owner.done?.(this));
  }
}

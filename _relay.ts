/**
 * The two ends of a relay through the backplane (`_relay_wire.ts`): on the
 * session's owner, {@linkcode RelayLink}, the {@linkcode Link} a session
 * resumes onto when its client came back on another instance; on that
 * instance, {@linkcode Relayer}, which keeps only the client's socket and
 * a bounded buffer, and moves frames both ways. A break of either side (the
 * socket, the backplane, the other instance) is a break of the session's
 * link: the session waits for its client, which resumes again wherever it
 * lands.
 *
 * @module
 */
import type { Encoded, Frame } from "./_codec.ts";
import type { Link, LinkEnd, LinkReceiver } from "./_link.ts";
import { normaliseCloseCode, SocketLink } from "./_link.ts";
import {
  encodeAmount,
  encodeClose,
  encodeRelay,
  Kind,
  type KindValue,
  readAmount,
  readClose,
  readText,
  type RelayClose,
  relayIdBytes,
  textPayload,
} from "./_relay_wire.ts";

/** What both ends of a relay send through: the backplane, to one instance. */
export interface RelayChannel {
  /** Sends to `to` alone; `false` when it could not (a break). */
  sendTo(to: string, data: Uint8Array): boolean;
  /** The relay ended on this side: it leaves the cluster's maps. */
  forget(end: RelayLink | Relayer): void;
}

/** The bytes of a binary frame, not copied: `encodeRelay` copies them. */
function viewOf(frame: ArrayBuffer | ArrayBufferView): Uint8Array {
  return frame instanceof ArrayBuffer
    ? new Uint8Array(frame)
    : new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
}

/**
 * The link of a session whose client is on another instance: frames go
 * there through the backplane, and come back from it.
 */
export class RelayLink implements Link {
  readonly peer: string;
  readonly relay: string;
  /** The relay's id, as each of its messages starts with it. */
  readonly #id: Uint8Array;
  readonly #channel: RelayChannel;
  #receiver: LinkReceiver | null = null;
  #buffered = 0;
  #ended = false;
  /** Frames behind a `Blob` that is being read, to keep their order. */
  #chain: Promise<void> | undefined;

  constructor(channel: RelayChannel, peer: string, relay: string) {
    this.#channel = channel;
    this.peer = peer;
    this.relay = relay;
    this.#id = relayIdBytes(relay);
  }

  get protocol(): string {
    return "";
  }

  /** What the relaying instance last said its socket holds to send. */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  listen(receiver: LinkReceiver): void {
    this.#receiver = receiver;
  }

  /** The owner accepted: the link opens (a task later, after `accepted`). */
  open(): void {
    queueMicrotask(() => {
      if (!this.#ended) this.#receiver?.linkOpened();
    });
  }

  send(frame: Encoded): void {
    if (this.#ended) return;
    if (this.#chain === undefined && !(frame instanceof Blob)) {
      this.#post(this.#message(frame));
      return;
    }
    // Made now, so that a frame behind a Blob is the bytes it was now.
    const ready = frame instanceof Blob
      ? frame.arrayBuffer().then((bytes) => this.#message(bytes))
      : Promise.resolve(this.#message(frame));
    const turn: Promise<void> = (this.#chain ?? Promise.resolve())
      .then(() => ready)
      .then((message) => this.#post(message))
      .catch(() => this.broke())
      .finally(() => {
        if (this.#chain === turn) this.#chain = undefined;
      });
    this.#chain = turn;
  }

  /** The relay message of a frame: its bytes copied once, into it. */
  #message(frame: string | ArrayBuffer | ArrayBufferView): Uint8Array {
    return typeof frame === "string"
      ? encodeRelay(Kind.Text, this.#id, textPayload(frame))
      : encodeRelay(Kind.Binary, this.#id, viewOf(frame));
  }

  #post(message: Uint8Array): void {
    if (!this.#channel.sendTo(this.peer, message)) this.broke();
  }

  close(code: number, reason: string): void {
    if (this.#ended) return;
    const sent = this.#channel.sendTo(
      this.peer,
      encodeRelay(
        Kind.Close,
        this.#id,
        encodeClose({ code, reason, wasClean: true }),
      ),
    );
    if (!sent) this.broke();
  }

  abort(code?: number, reason?: string): void {
    if (this.#ended) return;
    this.close(code ?? 1012, reason ?? "");
    this.#end({ code: 1006, reason: "", wasClean: false });
  }

  release(): void {
    this.#receiver = null;
  }

  /** A message of the relaying instance for this relay. */
  received(kind: KindValue, payload: Uint8Array): void {
    const receiver = this.#receiver;
    if (this.#ended) return;
    switch (kind) {
      case Kind.Text: {
        const text = readText(payload);
        if (text !== null) receiver?.linkReceived(text);
        return;
      }
      case Kind.Binary:
        // Copied by the constructor: a Node `Buffer`'s `slice` is a view.
        receiver?.linkReceived(new Uint8Array(payload).buffer);
        return;
      case Kind.Closed: {
        const end = readClose(payload);
        this.#end(end ?? { code: 1006, reason: "", wasClean: false });
        return;
      }
      case Kind.Buffered:
        this.#buffered = readAmount(payload) ?? this.#buffered;
    }
  }

  /** The relay broke (the backplane, or the other instance is gone). */
  broke(): void {
    this.#end({ code: 1006, reason: "", wasClean: false });
  }

  #end(close: RelayClose): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#channel.forget(this);
    const receiver = this.#receiver;
    this.#receiver = null;
    if (receiver === null) return;
    const end: LinkEnd = {
      code: normaliseCloseCode(close.code),
      reason: close.reason,
      wasClean: close.wasClean,
      failure: "the relay ended",
      cause: null,
    };
    // Deferred: a send may break the link inside the session's own call.
    queueMicrotask(() => receiver.linkClosed(end));
  }
}

/** A frame (or a close) from the owner, before the socket opened. */
type Waiting = { kind: KindValue; payload: Uint8Array };

/**
 * The relaying instance's end: the client's socket (a server
 * {@linkcode SocketLink}, with every quirk of the socket), the frames that
 * wait for its open (at most `limit` bytes), and nothing else.
 */
export class Relayer implements LinkReceiver {
  readonly owner: string;
  readonly relay: string;
  /** The relay's id, as each of its messages starts with it. */
  readonly #id: Uint8Array;
  readonly #channel: RelayChannel;
  readonly #link: SocketLink;
  readonly #limit: number;
  #waiting: Waiting[] | null = [];
  #waitingBytes = 0;
  /** This side ended the relay: the socket's own close is not told. */
  #ended = false;
  /** The owner was told the socket holds more than the limit. */
  #toldSlow = false;

  /**
   * @param limit The most bytes it holds for the client (its server's
   * `maxBufferedAmount`): past it while the socket is not open, a break.
   */
  constructor(
    channel: RelayChannel,
    owner: string,
    relay: string,
    socket: WebSocket,
    limit: number,
  ) {
    this.#channel = channel;
    this.owner = owner;
    this.relay = relay;
    this.#id = relayIdBytes(relay);
    this.#limit = limit;
    this.#link = new SocketLink(socket, true);
    this.#link.listen(this);
  }

  /** The socket opened: the frames that waited go out. */
  linkOpened(): void {
    if (this.#ended) return; // Broken before it opened: the link closes it.
    const waiting = this.#waiting ?? [];
    this.#waiting = null;
    this.#waitingBytes = 0;
    for (const { kind, payload } of waiting) this.received(kind, payload);
  }

  /** A frame of the client, to the owner. */
  linkReceived(frame: Frame): void {
    this.#toOwner(
      typeof frame === "string"
        ? encodeRelay(Kind.Text, this.#id, textPayload(frame))
        : encodeRelay(Kind.Binary, this.#id, new Uint8Array(frame)),
    );
  }

  /** The socket's error: its close follows, which the owner is told. */
  linkFaulted(): void {}

  /** The socket closed: the owner is told how, unless this side ended it. */
  linkClosed(end: LinkEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#channel.forget(this);
    const { code, reason, wasClean } = end;
    this.#channel.sendTo(
      this.owner,
      encodeRelay(
        Kind.Closed,
        this.#id,
        encodeClose({ code, reason, wasClean }),
      ),
    );
  }

  #toOwner(message: Uint8Array): void {
    if (!this.#ended && !this.#channel.sendTo(this.owner, message)) {
      this.broke(true);
    }
  }

  /** A message of the owner for this relay. */
  received(kind: KindValue, payload: Uint8Array): void {
    if (this.#ended) return;
    const waiting = this.#waiting;
    if (waiting !== null) {
      waiting.push({ kind, payload: new Uint8Array(payload) }); // A copy.
      this.#waitingBytes += payload.byteLength;
      if (this.#waitingBytes > this.#limit) this.broke(true);
      return;
    }
    const link = this.#link;
    if (kind === Kind.Text) {
      const text = readText(payload);
      if (text !== null) link.send(text);
    } else if (kind === Kind.Binary) {
      link.send(payload);
    } else {
      if (kind === Kind.Close) {
        const close = readClose(payload);
        if (close !== null) link.close(close.code, close.reason);
      }
      return;
    }
    const amount = link.bufferedAmount;
    if (amount > this.#limit && !this.#toldSlow) {
      this.#toldSlow = true;
      this.#toOwner(
        encodeRelay(Kind.Buffered, this.#id, encodeAmount(amount)),
      );
    } else if (amount === 0) this.#toldSlow = false;
  }

  /**
   * The relay breaks (the backplane failed or stalled, the owner is gone,
   * this instance shuts down): the client is closed with 1012 (at its open,
   * if it has not opened), which it retries with its token, and the owner
   * told a break where `tell`.
   */
  broke(tell: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#channel.forget(this);
    if (tell) {
      this.#channel.sendTo(
        this.owner,
        encodeRelay(
          Kind.Closed,
          this.#id,
          encodeClose({ code: 1006, reason: "", wasClean: false }),
        ),
      );
    }
    this.#link.close(1012, "relay ended");
  }
}

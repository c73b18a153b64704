// This module is browser compatible.
/**
 * Resume's wire format, its frames: the control frames (`hello`, `ack`,
 * `accept`, `decline`, `declined`) and the prefix of a user binary message
 * that starts with the marker byte (the design: below). Pure: no
 * socket, no timer; errors are returned, as the codec does.
 *
 * ## Design (protocol `ws4d-resume.1`; docs/wire-protocol.md has the full format)
 *
 * - Negotiation, in the handshake only, and only when the client offers no
 *   subprotocol of its own. A fresh offer is the query parameter
 *   `ws4d-resume=1`, which a server without `resume` ignores (a subprotocol
 *   it does not choose would fail the handshake in browsers, Node and Bun);
 *   the server's `hello`, its first frame, tells the client, which answers
 *   `accept` (or `decline`) with the token: until then the client's frames
 *   are read as they are (`readAnswer`). A resume offers
 *   `ws4d-resume.1` and `ws4d-resume.1.<token>.<received>` as subprotocols
 *   (a browser cannot send headers, and a URL is logged: the token goes in a
 *   header); the server with `resume` selects `ws4d-resume.1`. The server
 *   strips the parameter and every value starting `ws4d-resume.` from what
 *   `request` and `protocol` show: `takeResumeQuery`,
 *   `parseProtocols`.
 * - The token: 27 random bytes (216 bits) from `crypto.getRandomValues`, as
 *   36 base64url characters. Its first 12 are a selector the server may look
 *   sessions up by; the whole is then compared in a time that does not
 *   depend on where the first difference is (`isSameToken`).
 * - Sequence numbers are implicit: TCP keeps order, so each side counts the
 *   data messages it sends and receives in a session. Counts are absolute
 *   (never reset within a session), so an acknowledgement or a resume is a
 *   single number, and a repeated one does no harm.
 * - Control frames are binary frames starting with the marker byte 0xC1
 *   (never the first byte of UTF-8 text, of MessagePack, of the usual binary
 *   formats); the next byte is their type. Text frames are user messages,
 *   unchanged. A user binary message is unchanged too, unless it starts with
 *   0xC1: then it goes behind the 2-byte prefix `C1 00`. So the common cases
 *   cost nothing on the wire and nothing when received (no copy), unlike a
 *   prefix on every binary message; a sender may put the prefix before any
 *   binary message (a `Blob`, whose first byte cannot be read at once).
 * - The server sends `hello` first on every negotiated connection: resumed
 *   or fresh, the count of messages it received, the token, the limits. The
 *   client learns the server's count there; the server learned the client's
 *   from the offer, so both resend at once, without another round trip.
 * - After a fresh offer the client sends at once, as it is, and keeps what
 *   it sends until the server's first frame tells: at most the default
 *   limits, then it keeps nothing more and declines a later `hello`.
 * - Each side acknowledges (`ack`, its received count) when what it received
 *   since its last acknowledgement reaches a quarter of `maxMessages` or of
 *   `maxBytes`. What the sender keeps is then at most that quarter plus what
 *   is in flight during one round trip: three quarters of the limits are left
 *   for the flight, for one ack frame (10 bytes) per quarter of the limits.
 *   A smaller fraction buys little more room for more acks; a half would
 *   leave only half the limits for the flight.
 * - A message's size is its byte length for binary, its length in UTF-16
 *   code units for text (its byte length for ASCII): read in O(1), and what
 *   a JavaScript string holds in memory.
 *
 * @module
 */
import type { Encoded, Frame } from "./_codec.ts";
import { ErrorCode, Ws4dError } from "./_errors.ts";
import { MAX_WINDOW, type ResumeLimits } from "./_resume_options.ts";
import { isSameToken, TOKEN } from "./_resume_handshake.ts";

/** The first byte of every control frame, and of a prefixed user message. */
export const MARKER = 0xc1;

/** The control frame types (the byte after {@linkcode MARKER}). */
export const FrameType = {
  /** A user binary message behind the prefix `C1 00`. */
  User: 0x00,
  /** The server's first frame on every negotiated connection. */
  Hello: 0x01,
  /** An acknowledgement: the count of data messages received. */
  Ack: 0x02,
  /** A client takes the session its query offer got (with the token). */
  Accept: 0x03,
  /** A client turns down the session its query offer got (with the token). */
  Decline: 0x04,
  /** The server's answer to a decline: plain frames from here on. */
  Declined: 0x05,
} as const;

const MAX_U32 = 0xffff_ffff;
const TWO_32 = 2 ** 32;

// ---------------------------------------------------------------------------
// Frames

/** The server's first frame on every connection that negotiated resuming. */
export interface HelloFrame {
  /** Names the frame. */
  readonly type: "hello";
  /** Whether the session offered is resumed; `false`: a fresh session. */
  readonly resumed: boolean;
  /** The count of data messages the server received in this session. */
  readonly received: number;
  /** The session's limits: how long it waits, how much each side keeps. */
  readonly limits: ResumeLimits;
  /** The session's token, for the client's next offer. */
  readonly token: string;
}

/** An acknowledgement: the count of data messages received so far. */
export interface AckFrame {
  /** Names the frame. */
  readonly type: "ack";
  /** The count of data messages the sender of the ack received. */
  readonly received: number;
}

/** The server's answer to a client's decline: plain frames from here on. */
export interface DeclinedFrame {
  /** Names the frame. */
  readonly type: "declined";
}

/** A frame that the user never sees (what a side reads from its peer). */
export type ControlFrame = HelloFrame | AckFrame | DeclinedFrame;

const HELLO_HEADER = 27;
const ACK_LENGTH = 10;
const USER_PREFIX = Uint8Array.of(MARKER, FrameType.User);

function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, Math.floor(value / TWO_32));
  view.setUint32(offset + 4, value % TWO_32);
}

/** A uint64, or -1 past `Number.MAX_SAFE_INTEGER`. */
function getU64(view: DataView, offset: number): number {
  const high = view.getUint32(offset);
  if (high > 0x1f_ffff) return -1;
  return high * TWO_32 + view.getUint32(offset + 4);
}

/**
 * The bytes of a control frame, to send as a binary message.
 *
 * @throws {RangeError} For a count or a limit the wire cannot carry, or a
 * token that is not 16 to 128 characters of base64url.
 *
 * @example An ack, byte by byte
 * ```ts
 * import { encodeControl } from "./_resume_frames.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   [...encodeControl({ type: "ack", received: 258 })],
 *   [0xc1, 0x02, 0, 0, 0, 0, 0, 0, 1, 2],
 * );
 * ```
 */
export function encodeControl(control: ControlFrame): Uint8Array<ArrayBuffer> {
  if (control.type === "declined") {
    return Uint8Array.of(MARKER, FrameType.Declined);
  }
  checkCount(control.received, "received");
  if (control.type === "ack") {
    const bytes = new Uint8Array(ACK_LENGTH);
    const view = new DataView(bytes.buffer);
    bytes[0] = MARKER;
    bytes[1] = FrameType.Ack;
    setU64(view, 2, control.received);
    return bytes;
  }
  const { limits, token } = control;
  if (!TOKEN.test(token)) {
    throw new RangeError(
      `Cannot encode hello: the token must be 16 to 128 characters of base64url, current length is ${token.length}`,
    );
  }
  const window = Math.round(limits.window * 1000);
  if (!(window >= 0 && window <= MAX_U32)) {
    throw new RangeError(
      `Cannot encode hello: the window must be 0 to ${MAX_WINDOW} s, current value is ${limits.window}`,
    );
  }
  if (
    !Number.isInteger(limits.maxMessages) || limits.maxMessages < 1 ||
    limits.maxMessages > MAX_U32
  ) {
    throw new RangeError(
      `Cannot encode hello: maxMessages must be an integer from 1 to ${MAX_U32}, current value is ${limits.maxMessages}`,
    );
  }
  checkCount(limits.maxBytes, "maxBytes");
  if (limits.maxBytes === 0) {
    throw new RangeError("Cannot encode hello: maxBytes must be at least 1");
  }
  const bytes = new Uint8Array(HELLO_HEADER + token.length);
  const view = new DataView(bytes.buffer);
  bytes[0] = MARKER;
  bytes[1] = FrameType.Hello;
  bytes[2] = control.resumed ? 1 : 0;
  setU64(view, 3, control.received);
  view.setUint32(11, window);
  view.setUint32(15, limits.maxMessages);
  setU64(view, 19, limits.maxBytes);
  writeToken(bytes, HELLO_HEADER, token);
  return bytes;
}

/** Writes `token` (base64url, so ASCII) into `bytes` from `offset`. */
function writeToken(bytes: Uint8Array, offset: number, token: string): void {
  for (let i = 0; i < token.length; i++) {
    bytes[offset + i] = token.charCodeAt(i);
  }
}

function checkCount(value: number, name: string): void {
  if (
    !Number.isInteger(value) || value < 0 || value > Number.MAX_SAFE_INTEGER
  ) {
    throw new RangeError(
      `Cannot encode control frame: ${name} must be an integer from 0 to 2^53 - 1, current value is ${value}`,
    );
  }
}

function protocolError(what: string): Ws4dError {
  return new Ws4dError(
    ErrorCode.ProtocolError,
    `Cannot resume: ${what}`,
  );
}

/**
 * Reads a control frame: the bytes of a binary message that starts with
 * {@linkcode MARKER} and is not a prefixed user message.
 *
 * @returns The frame, or a {@linkcode Ws4dError} (`ProtocolError`) for an
 * unknown type, a wrong length, or a value out of range. Returned, not
 * thrown, as the codec does.
 *
 * @example
 * ```ts
 * import { decodeControl, encodeControl } from "./_resume_frames.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const bytes = encodeControl({ type: "ack", received: 9 });
 * assertEquals(decodeControl(bytes), { type: "ack", received: 9 });
 * ```
 */
export function decodeControl(bytes: Uint8Array): ControlFrame | Ws4dError {
  if (bytes.length < 2 || bytes[0] !== MARKER) {
    return protocolError("a control frame must start with 0xC1 and a type");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (bytes[1]) {
    case FrameType.Ack: {
      if (bytes.length !== ACK_LENGTH) {
        return protocolError(`an ack is 10 bytes, not ${bytes.length}`);
      }
      const received = getU64(view, 2);
      if (received < 0) return protocolError("an ack's count is too large");
      return { type: "ack", received };
    }
    case FrameType.Hello: {
      const length = bytes.length - HELLO_HEADER;
      if (length < 16 || length > 128) {
        return protocolError(`a hello's token is ${length} bytes`);
      }
      const received = getU64(view, 3);
      const maxMessages = view.getUint32(15);
      const maxBytes = getU64(view, 19);
      if (received < 0 || maxMessages === 0 || maxBytes < 1) {
        return protocolError("a hello's count or limits are out of range");
      }
      const token = String.fromCharCode(...bytes.subarray(HELLO_HEADER));
      if (!TOKEN.test(token)) {
        return protocolError("a hello's token is not base64url");
      }
      return {
        type: "hello",
        resumed: ((bytes[2] as number) & 1) === 1,
        received,
        limits: {
          window: view.getUint32(11) / 1000,
          maxMessages,
          maxBytes,
        },
        token,
      };
    }
    case FrameType.Declined:
      if (bytes.length !== 2) {
        return protocolError(
          `a declined frame is 2 bytes, not ${bytes.length}`,
        );
      }
      return { type: "declined" };
    default:
      return protocolError(`unknown control frame type ${bytes[1]}`);
  }
}

/**
 * The hello a server sends first after a query offer, read from the first
 * frame a client gets: `null` for anything else, which tells a server that
 * does not resume (its first message is the user's, given as it is).
 *
 * @example
 * ```ts
 * import { encodeControl, readHello } from "./_resume_frames.ts";
 * import { DEFAULTS } from "./_options.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const hello = {
 *   type: "hello", resumed: false, received: 0,
 *   limits: DEFAULTS.resume, token: "A".repeat(36),
 * } as const;
 * assertEquals(readHello(encodeControl(hello).buffer), hello);
 * assertEquals(readHello("hello"), null);
 * assertEquals(readHello(Uint8Array.of(0xc1, 0x01).buffer), null);
 * ```
 */
export function readHello(frame: Frame): HelloFrame | null {
  if (typeof frame === "string" || frame.byteLength < HELLO_HEADER + 16) {
    return null;
  }
  const bytes = new Uint8Array(frame);
  if (bytes[0] !== MARKER || bytes[1] !== FrameType.Hello) return null;
  const hello = decodeControl(bytes);
  return hello instanceof Ws4dError || hello.type !== "hello" ? null : hello;
}

/** What a client answers to the hello of its query offer. */
export type ResumeAnswer = "accept" | "decline";

/**
 * A client's answer to the hello of its query offer: `C1 03` (accept) or
 * `C1 04` (decline), then the session's token. The token makes it one that
 * no user message can be taken for: the client's frames are read as they
 * are until it accepts.
 *
 * @example
 * ```ts
 * import { encodeAnswer, readAnswer } from "./_resume_frames.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const token = "A".repeat(36);
 * const bytes = encodeAnswer("accept", token);
 * assertEquals([...bytes.subarray(0, 3)], [0xc1, 0x03, 0x41]);
 * assertEquals(readAnswer(bytes.buffer, token), "accept");
 * assertEquals(readAnswer(bytes.buffer, "B".repeat(36)), null);
 * ```
 */
export function encodeAnswer(
  answer: ResumeAnswer,
  token: string,
): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(2 + token.length);
  bytes[0] = MARKER;
  bytes[1] = answer === "accept" ? FrameType.Accept : FrameType.Decline;
  writeToken(bytes, 2, token);
  return bytes;
}

/**
 * The server's reading of a client frame before the client accepted:
 * `"accept"` or `"decline"` for exactly {@linkcode encodeAnswer}'s bytes
 * with this session's token, else `null`: a data message, as it is.
 */
export function readAnswer(frame: Frame, token: string): ResumeAnswer | null {
  if (typeof frame === "string" || frame.byteLength !== 2 + token.length) {
    return null;
  }
  const bytes = new Uint8Array(frame);
  if (bytes[0] !== MARKER) return null;
  const type = bytes[1];
  if (type !== FrameType.Accept && type !== FrameType.Decline) return null;
  if (!isSameToken(String.fromCharCode(...bytes.subarray(2)), token)) {
    return null;
  }
  return type === FrameType.Accept ? "accept" : "decline";
}

/**
 * Reads a received frame while resuming is on: a user message (text as is,
 * binary without its prefix if it had one), a control frame, or the error
 * of a malformed control frame. Text, and binary not starting with 0xC1,
 * come back as they are, with no copy.
 *
 * @returns What to give the codec (`string` or `ArrayBuffer`), a
 * {@linkcode ControlFrame}, or a {@linkcode Ws4dError} (`ProtocolError`).
 *
 * @example
 * ```ts
 * import { encodeControl, unwrapFrame, wrapUserData } from "./_resume_frames.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(unwrapFrame("hi"), "hi");
 * const wrapped = wrapUserData(Uint8Array.of(0xc1, 7)) as Uint8Array<ArrayBuffer>;
 * assertEquals([...new Uint8Array(unwrapFrame(wrapped.buffer) as ArrayBuffer)], [0xc1, 7]);
 * assertEquals(
 *   unwrapFrame(encodeControl({ type: "ack", received: 1 }).buffer),
 *   { type: "ack", received: 1 },
 * );
 * ```
 */
export function unwrapFrame(frame: Frame): Frame | ControlFrame | Ws4dError {
  if (typeof frame === "string" || frame.byteLength === 0) return frame;
  const bytes = new Uint8Array(frame);
  if (bytes[0] !== MARKER) return frame;
  if (bytes[1] === FrameType.User) return frame.slice(2);
  return decodeControl(bytes);
}

/**
 * The frame to send, and to keep for a resend, for a user message that the
 * codec encoded: text as is; bytes copied (the caller may reuse its buffer
 * before a resend), behind the prefix `C1 00` when they start with 0xC1; a
 * `Blob` always behind the prefix, as its first byte cannot be read at once.
 *
 * @example
 * ```ts
 * import { wrapUserData } from "./_resume_frames.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(wrapUserData("hi"), "hi");
 * assertEquals([...(wrapUserData(Uint8Array.of(1, 2)) as Uint8Array)], [1, 2]);
 * assertEquals(
 *   [...(wrapUserData(Uint8Array.of(0xc1)) as Uint8Array)],
 *   [0xc1, 0x00, 0xc1],
 * );
 * ```
 */
export function wrapUserData(payload: Encoded): Encoded {
  if (typeof payload === "string") return payload;
  let source: Uint8Array;
  if (payload instanceof ArrayBuffer) source = new Uint8Array(payload);
  else if (ArrayBuffer.isView(payload)) {
    source = new Uint8Array(
      payload.buffer,
      payload.byteOffset,
      payload.byteLength,
    );
  } else return new Blob([USER_PREFIX, payload]);
  if (source[0] !== MARKER) return source.slice();
  const framed = new Uint8Array(source.length + 2);
  framed.set(USER_PREFIX);
  framed.set(source, 2);
  return framed;
}

/**
 * A kept frame as the user gave it: without the `C1 00` prefix that
 * {@linkcode wrapUserData} may have put before it.
 *
 * @example
 * ```ts
 * import { unwrapKept, wrapUserData } from "./_resume_frames.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const kept = wrapUserData(Uint8Array.of(0xc1, 7));
 * assertEquals([...(unwrapKept(kept) as Uint8Array)], [0xc1, 7]);
 * ```
 */
export function unwrapKept(frame: Encoded): Encoded {
  if (typeof frame === "string") return frame;
  if (frame instanceof Blob) return frame.slice(2);
  const bytes = ArrayBuffer.isView(frame)
    ? new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength)
    : new Uint8Array(frame);
  return bytes[0] === MARKER && bytes[1] === FrameType.User
    ? bytes.slice(2)
    : bytes;
}

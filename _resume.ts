// This module is browser compatible.
/**
 * The resume protocol's wire format and state, shared by the server's
 * connections and the client (SPEC.md, "Resuming"). Pure: no socket, no
 * timer, no `Deno.*`; the caller gives the time where one is needed.
 *
 * ## Design (protocol `ws4d-resume.1`; README.md, "Resuming", has the full format)
 *
 * - Negotiation, in the handshake only, and only when the client offers no
 *   subprotocol of its own. A fresh offer is the query parameter
 *   `ws4d-resume=1`, which a server without `resume` ignores (a subprotocol
 *   it does not choose would fail the handshake in browsers, Node and Bun);
 *   the server's `hello`, its first frame, tells the client, which answers
 *   `accept` (or `decline`) with the token: until then the client's frames
 *   are read as they are ({@linkcode readAnswer}). A resume offers
 *   `ws4d-resume.1` and `ws4d-resume.1.<token>.<received>` as subprotocols
 *   (a browser cannot send headers, and a URL is logged: the token goes in a
 *   header); the server with `resume` selects `ws4d-resume.1`. The server
 *   strips the parameter and every value starting `ws4d-resume.` from what
 *   `request` and `protocol` show: {@linkcode takeResumeQuery},
 *   {@linkcode parseProtocols}.
 * - The token: 27 random bytes (216 bits) from `crypto.getRandomValues`, as
 *   36 base64url characters. Its first 12 are a selector the server may look
 *   sessions up by; the whole is then compared in a time that does not
 *   depend on where the first difference is ({@linkcode isSameToken}).
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
// checkNumber from _checks.ts, not _reconnect.ts's alias: _options.ts
// imports this module, and _reconnect.ts imports _options.ts (a cycle that
// leaves DEFAULTS unset when client.ts loads).
import { encodeBase64Url } from "@std/encoding/base64url";
import { checkNumber, describe } from "./_checks.ts";
import { type Encoded, type Frame, sizeOf } from "./_codec.ts";

export { sizeOf };
import { ErrorCode, Ws4dError } from "./_errors.ts";

/** The subprotocol that negotiates version 1 of resuming. */
export const RESUME_PROTOCOL = "ws4d-resume.1";

/** Every subprotocol value of the package starts with this. */
const OURS = "ws4d-resume.";

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

/**
 * The query parameter of a fresh offer: `?ws4d-resume=1`, which a server
 * that does not know it ignores (a subprotocol it did not choose would fail
 * the handshake in browsers, Node and Bun).
 */
export const RESUME_QUERY = "ws4d-resume";
/** The value of {@linkcode RESUME_QUERY} for this version. */
const RESUME_QUERY_VALUE = "1";

/** The limits of a session, in the units of the server option `resume`. */
export interface ResumeLimits {
  /** How long a broken session waits for its client, in seconds. */
  readonly window: number;
  /** The most messages kept for the peer. */
  readonly maxMessages: number;
  /** The most bytes kept for the peer (see the module doc for "size"). */
  readonly maxBytes: number;
}

/** The defaults of the server option `resume` (SPEC.md, "Resuming"). */
export const RESUME_DEFAULTS: ResumeLimits = Object.freeze({
  window: 60,
  maxMessages: 1000,
  maxBytes: 1024 * 1024,
});

/** The largest window the wire carries: 2³² − 1 ms, in whole seconds. */
const MAX_WINDOW = 4_294_967;
const MAX_U32 = 0xffff_ffff;
const TWO_32 = 2 ** 32;

const SERVER_ACTION = "Cannot create WebSocketServer";
const KNOWN = new Set(Object.keys(RESUME_DEFAULTS));

/**
 * Resolves the server option `resume`: `undefined` or `false` is off
 * (`null`), `true` is the defaults, an object sets some of them.
 *
 * @throws {TypeError} For a value of another type, an unknown field, or a
 * field that is not a number.
 * @throws {RangeError} For `window` outside 0 to 4294967 s, `maxMessages`
 * not an integer from 1 to 2³² − 1, or `maxBytes` not an integer from 1.
 *
 * @example
 * ```ts
 * import { resolveResume } from "./_resume.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(resolveResume(undefined), null);
 * assertEquals(resolveResume({ window: 5 }), {
 *   window: 5,
 *   maxMessages: 1000,
 *   maxBytes: 1048576,
 * });
 * ```
 */
export function resolveResume(value: unknown): ResumeLimits | null {
  if (value === undefined || value === false) return null;
  if (value === true) return RESUME_DEFAULTS;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `${SERVER_ACTION}: options.resume must be true or an object, current value is ${
        describe(value)
      }`,
    );
  }
  const given = value as Partial<Record<keyof ResumeLimits, unknown>>;
  for (const name of Object.keys(given)) {
    if (!KNOWN.has(name)) {
      throw new TypeError(
        `${SERVER_ACTION}: options.resume.${name} is not an option`,
      );
    }
  }
  const {
    window = RESUME_DEFAULTS.window,
    maxMessages = RESUME_DEFAULTS.maxMessages,
    maxBytes = RESUME_DEFAULTS.maxBytes,
  } = given;
  return Object.freeze({
    window: checkNumber(window, "options.resume.window", SERVER_ACTION, {
      min: 0,
      max: MAX_WINDOW,
    }),
    maxMessages: checkNumber(
      maxMessages,
      "options.resume.maxMessages",
      SERVER_ACTION,
      { min: 1, max: MAX_U32, integer: true },
    ),
    maxBytes: checkNumber(
      maxBytes,
      "options.resume.maxBytes",
      SERVER_ACTION,
      { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
    ),
  });
}

// ---------------------------------------------------------------------------
// The token

/** The length of the tokens this package makes: 27 bytes in base64url. */
export const TOKEN_LENGTH = 36;
/** The length of a token's selector, the part a server may index by. */
export const SELECTOR_LENGTH = 12;
/** Any token the wire carries: 16 to 128 characters of base64url. */
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * A new session token: 27 bytes (216 bits) from `crypto.getRandomValues`,
 * as 36 characters of base64url (no padding: 27 bytes are 36 characters
 * exactly, so no two spellings decode alike).
 *
 * @example
 * ```ts
 * import { createToken, TOKEN_LENGTH } from "./_resume.ts";
 * import { assertEquals, assertNotEquals } from "@std/assert";
 *
 * const token = createToken();
 * assertEquals(token.length, TOKEN_LENGTH);
 * assertNotEquals(token, createToken());
 * ```
 */
export function createToken(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(27)));
}

/**
 * The first {@linkcode SELECTOR_LENGTH} characters of `token`: a key for a
 * map of sessions, so that the secret itself is only ever compared by
 * {@linkcode isSameToken}. 72 random bits: a server with a million sessions
 * meets a collision once in 10¹⁰ tokens; it should still check.
 *
 * @example
 * ```ts
 * import { tokenSelector } from "./_resume.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(tokenSelector("abcdefghijkl0123456789012345678901234"), "abcdefghijkl");
 * ```
 */
export function tokenSelector(token: string): string {
  return token.slice(0, SELECTOR_LENGTH);
}

/**
 * Whether two tokens are the same, in a time that depends on their length
 * only (public: every token of this package has the same), never on where
 * they first differ.
 *
 * @example
 * ```ts
 * import { createToken, isSameToken } from "./_resume.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const token = createToken();
 * assertEquals(isSameToken(token, token.slice()), true);
 * assertEquals(isSameToken(token, createToken()), false);
 * ```
 */
export function isSameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) {
    difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  }
  return difference === 0;
}

// ---------------------------------------------------------------------------
// The handshake

/** What a client offered for resuming, once parsed. */
export interface ResumeOffer {
  /**
   * The session the client asks to resume, or `null` for a fresh session:
   * none offered, or an offer that is malformed, repeated or forged in form.
   */
  readonly token: string | null;
  /** The count of data messages the client received in that session. */
  readonly received: number;
}

/** A `sec-websocket-protocol` header split into the package's and the rest. */
export interface ParsedProtocols {
  /**
   * The client's offer to resume, or `null` when it offers no resuming, or
   * offers it beside a subprotocol of its own (then it is not negotiated).
   */
  readonly resume: ResumeOffer | null;
  /**
   * The header without any value of the package (joined with ", "), or
   * `null` when nothing is left: what `request.headers` shows, and what the
   * server's own `protocols` are chosen from.
   */
  readonly rest: string | null;
}

/** `ws4d-resume.1.<token>.<received>`, received in decimal without zeros. */
const OFFER = /^ws4d-resume\.1\.([A-Za-z0-9_-]{16,128})\.(0|[1-9][0-9]{0,15})$/;

/**
 * Splits the raw `sec-websocket-protocol` header value of a handshake into
 * the client's resume offer and the other subprotocols. Every value starting
 * `ws4d-resume.` is taken out of `rest`, understood or not, so that nothing
 * of resuming shows in `request` or `protocol`.
 *
 * @param header The header's value, `null` when absent (several headers:
 * joined with ", ", as `Headers.get` does).
 * @returns The offer (`resume`) and what remains (`rest`).
 *
 * @example A reconnect, and a client with its own subprotocol
 * ```ts
 * import { parseProtocols } from "./_resume.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const token = "A".repeat(36);
 * assertEquals(parseProtocols(`ws4d-resume.1, ws4d-resume.1.${token}.42`), {
 *   resume: { token, received: 42 },
 *   rest: null,
 * });
 * assertEquals(parseProtocols("chat, ws4d-resume.1"), {
 *   resume: null,
 *   rest: "chat",
 * });
 * ```
 */
export function parseProtocols(header: string | null): ParsedProtocols {
  if (header === null) return { resume: null, rest: null };
  if (!header.includes(OURS)) {
    const trimmed = header.trim();
    return { resume: null, rest: trimmed === "" ? null : trimmed };
  }
  const rest: string[] = [];
  let offered = false;
  let offers = 0;
  let offer: { token: string; received: number } | null = null;
  for (const item of header.split(",")) {
    const value = item.trim();
    if (value === "") continue;
    if (value === RESUME_PROTOCOL) {
      offered = true;
    } else if (value.startsWith(OURS)) {
      // Another version's values are ours too, and just as hidden.
      if (!value.startsWith(`${RESUME_PROTOCOL}.`)) continue;
      offers++;
      const match = OFFER.exec(value);
      const received = Number(match?.[2]);
      if (match !== null && received <= Number.MAX_SAFE_INTEGER) {
        offer = { token: match[1] as string, received };
      }
    } else {
      rest.push(value);
    }
  }
  const valid = offers === 1 && offer !== null;
  return {
    resume: offered && rest.length === 0
      ? valid ? offer : { token: null, received: 0 }
      : null,
    rest: rest.length === 0 ? null : rest.join(", "),
  };
}

/**
 * The subprotocols a client offers: {@linkcode RESUME_PROTOCOL}, and, to
 * resume a session, the value that carries its token and the count of
 * messages received in it.
 *
 * @example
 * ```ts
 * import { offerProtocols } from "./_resume.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(offerProtocols(null), ["ws4d-resume.1"]);
 * const token = "A".repeat(36);
 * assertEquals(offerProtocols({ token, received: 7 }), [
 *   "ws4d-resume.1",
 *   `ws4d-resume.1.${token}.7`,
 * ]);
 * ```
 */
export function offerProtocols(
  session: { readonly token: string; readonly received: number } | null,
): string[] {
  if (session === null) return [RESUME_PROTOCOL];
  return [
    RESUME_PROTOCOL,
    `${RESUME_PROTOCOL}.${session.token}.${session.received}`,
  ];
}

/**
 * The URL a client connects to for a fresh offer: `url` with
 * `ws4d-resume=1` added to its query, the rest left as written.
 *
 * @example
 * ```ts
 * import { withResumeQuery } from "./_resume.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(withResumeQuery("ws://h/chat"), "ws://h/chat?ws4d-resume=1");
 * assertEquals(withResumeQuery("ws://h/?room=a"), "ws://h/?room=a&ws4d-resume=1");
 * ```
 */
export function withResumeQuery(url: string): string {
  const query = url.indexOf("?");
  const separator = query === -1
    ? "?"
    : query === url.length - 1 || url.endsWith("&")
    ? ""
    : "&";
  return `${url}${separator}${RESUME_QUERY}=${RESUME_QUERY_VALUE}`;
}

/** A URL's query without the package's parameter, and whether it offered. */
export interface ResumeQuery {
  /** Whether the query offers resuming: `ws4d-resume=1`, once. */
  readonly offered: boolean;
  /**
   * The query (with its `?`, or `""`) without any `ws4d-resume` parameter,
   * the others as the client wrote them: what `request` shows.
   */
  readonly search: string;
}

/**
 * Takes the package's parameter out of a request's query (`search`, with
 * its `?`): every `ws4d-resume` parameter, understood or not, so that
 * nothing of resuming shows in `request`.
 *
 * @example
 * ```ts
 * import { takeResumeQuery } from "./_resume.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(takeResumeQuery("?room=a%20b&ws4d-resume=1"), {
 *   offered: true,
 *   search: "?room=a%20b",
 * });
 * assertEquals(takeResumeQuery("?ws4d-resume=2"), { offered: false, search: "" });
 * ```
 */
export function takeResumeQuery(search: string): ResumeQuery {
  if (!search.includes(RESUME_QUERY)) return { offered: false, search };
  const kept: string[] = [];
  let offers = 0;
  let valid = false;
  for (const item of search.slice(1).split("&")) {
    const equals = item.indexOf("=");
    const name = equals === -1 ? item : item.slice(0, equals);
    if (name !== RESUME_QUERY) {
      kept.push(item);
      continue;
    }
    offers++;
    valid = item.slice(equals + 1) === RESUME_QUERY_VALUE;
  }
  const rest = kept.join("&");
  return {
    offered: offers === 1 && valid,
    search: rest === "" ? "" : `?${rest}`,
  };
}

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
 * import { encodeControl } from "./_resume.ts";
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
 * import { decodeControl, encodeControl } from "./_resume.ts";
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
 * import { encodeControl, readHello, RESUME_DEFAULTS } from "./_resume.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const hello = {
 *   type: "hello", resumed: false, received: 0,
 *   limits: RESUME_DEFAULTS, token: "A".repeat(36),
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
 * import { encodeAnswer, readAnswer } from "./_resume.ts";
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
 * import { encodeControl, unwrapFrame, wrapUserData } from "./_resume.ts";
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
 * import { wrapUserData } from "./_resume.ts";
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

// ---------------------------------------------------------------------------
// The state of one side of a session

/** The initial capacity of the ring of kept messages (a power of two). */
const INITIAL_CAPACITY = 16;

/**
 * One side's state of a resumable session: the messages it sent that the
 * peer has not acknowledged (in order, with their sizes), the count it
 * received, and when it owes the peer an acknowledgement. The server's
 * connection and the client each hold one; `T` is whatever they send (the
 * wrapped frame), kept as given for a resend.
 *
 * The counts are absolute: `sent` and `received` grow for the session's
 * life; the kept messages are those numbered `acknowledged` to `sent − 1`.
 *
 * @example Two sides, a break, and a resume: nothing lost, nothing twice
 * ```ts
 * import { ResumeState } from "./_resume.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const server = new ResumeState<string>();
 * const client = new ResumeState<string>();
 * for (const text of ["a", "b", "c"]) server.keep(text, text.length);
 * client.countReceived(1); // "a" arrived; "b" and "c" were lost in the break
 * // The client offers its count (1); the server resends from there.
 * assertEquals(server.resumeFrom(client.received), ["b", "c"]);
 * assertEquals(server.acknowledged, 1);
 * ```
 */
export class ResumeState<T> {
  #limits: ResumeLimits;
  #ackEveryMessages = 0;
  #ackEveryBytes = 0;

  /** The ring of kept frames and their sizes; capacity a power of two. */
  #frames: (T | undefined)[] = [];
  #sizes: Float64Array = new Float64Array(0);
  #head = 0;
  #sent = 0;
  #acknowledged = 0;
  #keptBytes = 0;

  #received = 0;
  #unackedMessages = 0;
  #unackedBytes = 0;

  /**
   * Starts one side of a session: nothing sent, nothing received.
   *
   * @param limits The session's limits (the client adopts the server's from
   * its hello with {@linkcode ResumeState.limits}).
   */
  constructor(limits: ResumeLimits = RESUME_DEFAULTS) {
    this.#limits = limits;
    this.limits = limits;
  }

  /** The session's limits. */
  get limits(): ResumeLimits {
    return this.#limits;
  }

  /**
   * Adopts new limits (the client, from the server's hello); the ack
   * thresholds follow: a quarter of each limit, at least 1.
   */
  set limits(limits: ResumeLimits) {
    this.#limits = limits;
    this.#ackEveryMessages = Math.max(1, Math.floor(limits.maxMessages / 4));
    this.#ackEveryBytes = Math.max(1, Math.floor(limits.maxBytes / 4));
  }

  /** The count of data messages sent (and kept while unacknowledged). */
  get sent(): number {
    return this.#sent;
  }

  /** The count of data messages the peer acknowledged. */
  get acknowledged(): number {
    return this.#acknowledged;
  }

  /** The count of messages kept for a resend. */
  get keptMessages(): number {
    return this.#sent - this.#acknowledged;
  }

  /** The sum of the sizes of the messages kept for a resend. */
  get keptBytes(): number {
    return this.#keptBytes;
  }

  /**
   * Whether what is kept passed the limits: more than `maxMessages`
   * messages, or more than `maxBytes` bytes in more than one message (one
   * message is always kept, whatever its size). While connected, a peer that
   * leaves this so is a slow consumer; during a break, the session ends.
   */
  get overLimits(): boolean {
    const kept = this.#sent - this.#acknowledged;
    return kept > this.#limits.maxMessages ||
      (kept > 1 && this.#keptBytes > this.#limits.maxBytes);
  }

  /**
   * Records a data message sent, or queued during a break: it is kept,
   * numbered {@linkcode ResumeState.sent}, until the peer acknowledges it.
   *
   * @param frame What to send again on a resume.
   * @param size Its size ({@linkcode sizeOf} of the payload).
   */
  keep(frame: T, size: number): void {
    const count = this.#sent - this.#acknowledged;
    if (count === this.#frames.length) this.#grow();
    const slot = (this.#head + count) & (this.#frames.length - 1);
    this.#frames[slot] = frame;
    this.#sizes[slot] = size;
    this.#keptBytes += size;
    this.#sent++;
  }

  #grow(): void {
    const count = this.#frames.length;
    const capacity = Math.max(INITIAL_CAPACITY, count * 2);
    const frames = new Array<T | undefined>(capacity);
    const sizes = new Float64Array(capacity);
    for (let i = 0; i < count; i++) {
      const from = (this.#head + i) & (count - 1);
      frames[i] = this.#frames[from];
      sizes[i] = this.#sizes[from] as number;
    }
    this.#frames = frames;
    this.#sizes = sizes;
    this.#head = 0;
  }

  /**
   * The peer acknowledged `received` messages: those before it are dropped.
   *
   * @returns `false` when `received` is below a previous acknowledgement or
   * above {@linkcode ResumeState.sent}: a protocol error. A repeated
   * acknowledgement is no error.
   */
  acknowledge(received: number): boolean {
    if (!this.canResumeFrom(received)) return false;
    const mask = this.#frames.length - 1;
    for (let n = this.#acknowledged; n < received; n++) {
      this.#keptBytes -= this.#sizes[this.#head] as number;
      this.#frames[this.#head] = undefined;
      this.#head = (this.#head + 1) & mask;
    }
    this.#acknowledged = received;
    if (received === this.#sent) {
      this.#keptBytes = 0;
      // Idle with nothing kept: give the ring's memory back.
      if (this.#frames.length > INITIAL_CAPACITY) {
        this.#frames = [];
        this.#sizes = new Float64Array(0);
        this.#head = 0;
      }
    }
    return true;
  }

  /**
   * Whether the peer's count of received messages is one this side can
   * resume from: at least what it acknowledged, at most what was sent.
   * Out of it, the server starts a fresh session, and the client fails the
   * connection.
   */
  canResumeFrom(peerReceived: number): boolean {
    return Number.isInteger(peerReceived) &&
      peerReceived >= this.#acknowledged && peerReceived <= this.#sent;
  }

  /**
   * Resumes after a break, given the count the peer received (the client's
   * offer, the server's hello): acknowledges up to it, and returns exactly
   * the messages the peer did not receive, in order, each once. They stay
   * kept until acknowledged. The count this side received reaches the peer
   * in the same exchange, so no acknowledgement is owed any more.
   *
   * The caller must have stopped reading the old socket first, or a message
   * read from it later would be counted after the peer's resend began.
   *
   * @returns The frames to send again, or `null` when
   * {@linkcode ResumeState.canResumeFrom} is false.
   */
  resumeFrom(peerReceived: number): T[] | null {
    if (!this.acknowledge(peerReceived)) return null;
    this.#unackedMessages = 0;
    this.#unackedBytes = 0;
    return this.#keptFrames();
  }

  #keptFrames(): T[] {
    const count = this.#sent - this.#acknowledged;
    const mask = this.#frames.length - 1;
    const frames = new Array<T>(count);
    for (let i = 0; i < count; i++) {
      frames[i] = this.#frames[(this.#head + i) & mask] as T;
    }
    return frames;
  }

  /**
   * Ends this state when the server did not resume (a fresh session): the
   * kept messages, in order, for the caller to send again first in the new
   * session (at least once, SPEC.md). This state keeps nothing after it.
   */
  takeUnacknowledged(): T[] {
    const frames = this.#keptFrames();
    this.#frames = [];
    this.#sizes = new Float64Array(0);
    this.#head = 0;
    this.#acknowledged = this.#sent;
    this.#keptBytes = 0;
    return frames;
  }

  /** The count of data messages received. */
  get received(): number {
    return this.#received;
  }

  /** Whether messages were received since the last acknowledgement. */
  get ackPending(): boolean {
    return this.#unackedMessages > 0;
  }

  /**
   * Counts a data message received. When it returns `true`, an ack is due:
   * send `encodeControl({ type: "ack", received: state.takeAck() })`.
   *
   * @param size Its size ({@linkcode sizeOf}, after {@linkcode unwrapFrame}).
   * @returns Whether what was received since the last ack reached a quarter
   * of `maxMessages` or of `maxBytes`.
   */
  countReceived(size: number): boolean {
    this.#received++;
    this.#unackedBytes += size;
    return ++this.#unackedMessages >= this.#ackEveryMessages ||
      this.#unackedBytes >= this.#ackEveryBytes;
  }

  /** The count to acknowledge now; the ack is no longer owed. */
  takeAck(): number {
    this.#unackedMessages = 0;
    this.#unackedBytes = 0;
    return this.#received;
  }

  /**
   * When a session that broke at `brokeAt` (ms, the caller's clock) ends if
   * its client has not come back.
   */
  windowDeadline(brokeAt: number): number {
    return brokeAt + this.#limits.window * 1000;
  }
}

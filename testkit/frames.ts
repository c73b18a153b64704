/**
 * RFC 6455 on the wire, for the tests' raw peers (`raw_peer.ts`) and the
 * benchmark's load client (`bench/_wsclient.ts`): frames encoded and
 * decoded, masking, and the bytes of the opening handshake. It touches no
 * socket and imports nothing.
 *
 * @module
 */

/** The opcodes of RFC 6455, section 5.2. */
export const OPCODE = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** How {@linkcode encodeFrame} builds a frame. */
export interface EncodeOptions {
  /** The FIN bit: the last frame of a message (default true). */
  readonly fin?: boolean;
  /** Masked, as a client must (default true). */
  readonly mask?: boolean;
  /** The three RSV bits, as a number 0–7 (default 0). */
  readonly rsv?: number;
  /** The 4-byte masking key (default: random). */
  readonly key?: Uint8Array;
}

/** XORs `payload` with `key` into `into` from `at`. */
export function maskInto(
  payload: Uint8Array,
  key: Uint8Array,
  into: Uint8Array,
  at: number,
): void {
  const length = payload.length;
  for (let i = 0; i < length; i++) {
    into[at + i] = (payload[i] as number) ^ (key[i & 3] as number);
  }
}

/**
 * One frame: header, masking key (when masked) and payload, in one array.
 *
 * @example
 * ```ts
 * import { encodeFrame, OPCODE } from "./frames.ts";
 * const frame = encodeFrame(OPCODE.text, new TextEncoder().encode("hi"));
 * console.assert(frame.length === 2 + 4 + 2);
 * ```
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options: EncodeOptions = {},
): Uint8Array {
  const { fin = true, mask = true, rsv = 0 } = options;
  const length = payload.length;
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const keyAt = 2 + extra;
  const at = keyAt + (mask ? 4 : 0);
  const frame = new Uint8Array(at + length);
  frame[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  const maskBit = mask ? 0x80 : 0;
  const view = new DataView(frame.buffer);
  if (extra === 0) frame[1] = maskBit | length;
  else if (extra === 2) {
    frame[1] = maskBit | 126;
    view.setUint16(2, length);
  } else {
    frame[1] = maskBit | 127;
    view.setUint32(2, Math.floor(length / 2 ** 32));
    view.setUint32(6, length >>> 0);
  }
  if (mask) {
    const key = options.key ?? crypto.getRandomValues(new Uint8Array(4));
    frame.set(key.subarray(0, 4), keyAt);
    maskInto(payload, key, frame, at);
  } else {
    frame.set(payload, at);
  }
  return frame;
}

/**
 * A frame's header, read in place: one object, reused for every frame, so
 * that a hot read loop allocates nothing per frame.
 */
export class FrameHead {
  /** The FIN bit. */
  fin = false;
  /** The RSV bits, 0–7. */
  rsv = 0;
  /** The opcode. */
  opcode = 0;
  /** Whether the payload is masked (the key is the 4 bytes before it). */
  masked = false;
  /** The payload's length in bytes. */
  length = 0;
  /** The header's length in bytes, masking key included. */
  size = 0;

  /**
   * Reads the header at `at` of `data` (up to `end`); false when `data`
   * does not hold all of it yet.
   */
  read(data: Uint8Array, at: number, end: number = data.length): boolean {
    if (end - at < 2) return false;
    const first = data[at] as number;
    const second = data[at + 1] as number;
    let length = second & 0x7f;
    let size = 2;
    if (length === 126) {
      if (end - at < 4) return false;
      length = ((data[at + 2] as number) << 8) | (data[at + 3] as number);
      size = 4;
    } else if (length === 127) {
      if (end - at < 10) return false;
      const view = new DataView(data.buffer, data.byteOffset + at + 2, 8);
      length = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
      size = 10;
    }
    const masked = (second & 0x80) !== 0;
    if (masked) size += 4;
    if (end - at < size) return false;
    this.fin = (first & 0x80) !== 0;
    this.rsv = (first >> 4) & 7;
    this.opcode = first & 0x0f;
    this.masked = masked;
    this.length = length;
    this.size = size;
    return true;
  }
}

/** A decoded frame, its payload unmasked and copied. */
export interface Frame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Uint8Array;
}

/**
 * Splits `bytes` into whole frames (unmasking masked ones); `rest` is where
 * the first incomplete frame starts.
 *
 * @example
 * ```ts
 * import { decodeFrames, encodeFrame, OPCODE } from "./frames.ts";
 * const { frames, rest } = decodeFrames(
 *   encodeFrame(OPCODE.ping, new Uint8Array([1, 2])),
 * );
 * console.assert(frames[0]?.opcode === OPCODE.ping && rest === 8);
 * ```
 */
export function decodeFrames(
  bytes: Uint8Array,
): { frames: Frame[]; rest: number } {
  const frames: Frame[] = [];
  const head = new FrameHead();
  let at = 0;
  while (head.read(bytes, at) && at + head.size + head.length <= bytes.length) {
    const start = at + head.size;
    let payload = bytes.slice(start, start + head.length);
    if (head.masked) {
      const key = bytes.subarray(start - 4, start);
      const unmasked = new Uint8Array(payload.length);
      maskInto(payload, key, unmasked, 0);
      payload = unmasked;
    }
    frames.push({ fin: head.fin, opcode: head.opcode, payload });
    at = start + head.length;
  }
  return { frames, rest: at };
}

/** The payload of a close frame: the code, then the reason in UTF-8. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const text = new TextEncoder().encode(reason);
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return payload;
}

/** The code and reason of a close frame's payload (1005 when it has none). */
export function decodeClose(payload: Uint8Array): [number, string] {
  if (payload.length < 2) return [1005, ""];
  return [
    ((payload[0] as number) << 8) | (payload[1] as number),
    new TextDecoder().decode(payload.subarray(2)),
  ];
}

/** The `Sec-WebSocket-Key` of RFC 6455's example (section 1.3). */
export const SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/**
 * The headers of a client's opening handshake (RFC 6455, section 4.1) with
 * `extra` over them; a header given `""` is left out. The one place they
 * are written: a raw head ({@linkcode upgradeRequest}) and a `Request` to
 * `wss.fetch` both take them from here.
 *
 * @example
 * ```ts
 * import { upgradeHeaders } from "./frames.ts";
 * const headers = upgradeHeaders({ "sec-websocket-version": "" });
 * console.assert(headers.upgrade === "websocket");
 * console.assert(!("sec-websocket-version" in headers));
 * ```
 */
export function upgradeHeaders(
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const headers = {
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": SAMPLE_KEY,
    "sec-websocket-version": "13",
    ...extra,
  };
  return Object.fromEntries(
    Object.entries(headers).filter(([, value]) => value !== ""),
  );
}

/**
 * The head of an upgrade request: `GET path`, `host`, then
 * {@linkcode upgradeHeaders} with `extra`.
 */
export function upgradeRequest(
  host: string,
  path = "/",
  extra: Readonly<Record<string, string>> = {},
): string {
  const lines = Object.entries({ host, ...upgradeHeaders(extra) })
    .map(([name, value]) => `${name}: ${value}`);
  return `GET ${path} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
}

/** Where the bytes after an HTTP head's `\r\n\r\n` start, or -1. */
export function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 &&
      bytes[i - 3] === 13
    ) {
      return i + 1;
    }
  }
  return -1;
}

/** Joins byte arrays into one. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const whole = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.length;
  }
  return whole;
}

/**
 * A raw TCP WebSocket peer: it completes the handshake by hand and then does
 * only what a test tells it (never answers pings or closes, cuts the TCP).
 *
 * @module
 */
import { deadline } from "./_helpers.ts";

/** A raw peer after a successful handshake. */
export interface RawPeer {
  conn: Deno.Conn;
  /** The HTTP response head. */
  head: string;
  /** Reads until the server closes the TCP connection; returns all bytes. */
  readToEnd(ms?: number): Promise<Uint8Array>;
  /** Writes a masked frame. */
  frame(opcode: number, payload: Uint8Array, fin?: boolean): Promise<void>;
}

/** Opens a TCP connection and sends `request` (a whole HTTP request head). */
export async function rawRequest(
  port: number,
  request: string,
): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(request));
  return conn;
}

/** The HTTP head of an upgrade request for `path`. */
export function upgradeHead(
  port: number,
  path = "/",
  extra: Record<string, string> = {},
): string {
  const headers: Record<string, string> = {
    host: `127.0.0.1:${port}`,
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
    ...extra,
  };
  const lines = Object.entries(headers).filter(([, value]) => value !== "")
    .map(([name, value]) => `${name}: ${value}`);
  return `GET ${path} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
}

/** Reads from `conn` until `\r\n\r\n`; returns the head and any extra bytes. */
export async function readHead(conn: Deno.Conn, ms = 5000): Promise<string> {
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await deadline(conn.read(buffer), "HTTP response head", ms);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text;
}

/** Builds a client frame (masked unless `mask` is false). */
export function buildFrame(
  opcode: number,
  payload: Uint8Array,
  { fin = true, mask = true, rsv = 0 } = {},
): Uint8Array {
  const length = payload.byteLength;
  const header: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (length < 126) header.push(maskBit | length);
  else if (length < 65536) {
    header.push(maskBit | 126, length >> 8, length & 255);
  } else {
    header.push(maskBit | 127, 0, 0, 0, 0);
    header.push(
      (length >>> 24) & 255,
      (length >>> 16) & 255,
      (length >>> 8) & 255,
      length & 255,
    );
  }
  const key = mask ? [1, 2, 3, 4] : [];
  const out = new Uint8Array(header.length + key.length + length);
  out.set(header, 0);
  out.set(key, header.length);
  for (let i = 0; i < length; i++) {
    out[header.length + key.length + i] = mask
      ? (payload[i] as number) ^ (key[i % 4] as number)
      : payload[i] as number;
  }
  return out;
}

/** Connects to `port`, upgrades `path`, and returns the raw peer. */
export async function rawPeer(port: number, path = "/"): Promise<RawPeer> {
  const conn = await rawRequest(port, upgradeHead(port, path));
  const head = await readHead(conn);
  return {
    conn,
    head,
    readToEnd(ms = 5000) {
      return readToEnd(conn, ms);
    },
    async frame(opcode, payload, fin = true) {
      await conn.write(buildFrame(opcode, payload, { fin }));
    },
  };
}

/** A frame as the server sent it. */
export interface ServerFrame {
  opcode: number;
  payload: Uint8Array;
}

/** Splits the bytes a server sent (unmasked frames) into frames. */
export function parseFrames(bytes: Uint8Array): ServerFrame[] {
  const frames: ServerFrame[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = (bytes[at] as number) & 0x0f;
    let length = (bytes[at + 1] as number) & 0x7f;
    let header = 2;
    if (length === 126) {
      length = view.getUint16(at + 2);
      header = 4;
    } else if (length === 127) {
      length = Number(view.getBigUint64(at + 2));
      header = 10;
    }
    if (at + header + length > bytes.length) break;
    frames.push({
      opcode,
      payload: bytes.slice(at + header, at + header + length),
    });
    at += header + length;
  }
  return frames;
}

/** The code and reason of a close frame's payload. */
export function closeOf(frame: ServerFrame): [number, string] {
  const { payload } = frame;
  if (payload.length < 2) return [1005, ""];
  return [
    ((payload[0] as number) << 8) | (payload[1] as number),
    new TextDecoder().decode(payload.subarray(2)),
  ];
}

/** Joins chunks into one array. */
function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const all = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

/** Reads until the server ends the TCP connection (a reset counts). */
export async function readToEnd(
  conn: Deno.Conn,
  ms = 5000,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    let n: number | null;
    try {
      n = await deadline(conn.read(buffer), "the server to end TCP", ms);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) break;
      throw error;
    }
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
    total += n;
  }
  return concat(chunks, total);
}

/**
 * Reads frames from the server until `enough` says so; returns them all.
 * Rejects if the server ends TCP first, or after `ms`.
 */
export function readFramesUntil(
  conn: Deno.Conn,
  enough: (frames: ServerFrame[]) => boolean,
  what: string,
  ms = 5000,
): Promise<ServerFrame[]> {
  return deadline(
    (async () => {
      const buffer = new Uint8Array(256 * 1024);
      let bytes: Uint8Array = new Uint8Array(0);
      while (true) {
        const frames = parseFrames(bytes);
        if (enough(frames)) return frames;
        const n = await conn.read(buffer);
        if (n === null) throw new Error(`the server ended TCP before ${what}`);
        bytes = concat([bytes, buffer.subarray(0, n)], bytes.length + n);
      }
    })(),
    what,
    ms,
  );
}

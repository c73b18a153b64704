/**
 * A raw TCP WebSocket peer: it completes the handshake by hand and then does
 * only what a test tells it (never answers pings or closes, cuts the TCP).
 *
 * @module
 */
import { deadline } from "@std/async";
import {
  concat,
  decodeClose,
  decodeFrames,
  encodeFrame,
  upgradeRequest,
} from "./frames.ts";

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
  return upgradeRequest(`127.0.0.1:${port}`, path, extra);
}

/** Reads from `conn` until `\r\n\r\n`; returns the head and any extra bytes. */
export async function readHead(conn: Deno.Conn, ms = 5000): Promise<string> {
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await deadline(conn.read(buffer), ms);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text;
}

/** The masking key of the tests' frames: fixed, so their bytes are too. */
const KEY = new Uint8Array([1, 2, 3, 4]);

/** Builds a client frame (masked unless `mask` is false). */
export function buildFrame(
  opcode: number,
  payload: Uint8Array,
  { fin = true, mask = true, rsv = 0 } = {},
): Uint8Array {
  return encodeFrame(opcode, payload, { fin, mask, rsv, key: KEY });
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
  return decodeFrames(bytes).frames;
}

/** The code and reason of a close frame's payload. */
export function closeOf(frame: ServerFrame): [number, string] {
  return decodeClose(frame.payload);
}

/** Reads until the server ends the TCP connection (a reset counts). */
export async function readToEnd(
  conn: Deno.Conn,
  ms = 5000,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    let n: number | null;
    try {
      n = await deadline(conn.read(buffer), ms);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) break;
      throw error;
    }
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  return concat(chunks);
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
        bytes = concat([bytes, buffer.subarray(0, n)]);
      }
    })(),
    ms,
  );
}

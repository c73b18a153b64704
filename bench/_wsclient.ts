/**
 * The load generator's WebSocket client: RFC 6455 over `Deno.connect`, with
 * `TCP_NODELAY` as browsers set it.
 *
 * Deno's own `WebSocket` client writes a large frame's header and payload
 * in two writes without `TCP_NODELAY`: Nagle's algorithm then holds the
 * payload until the server's delayed ACK, and a 16 KiB echo takes 40 ms
 * whatever the server does. This client sends each frame, prebuilt and
 * masked once, in one write, and joins the small frames sent in one turn
 * of the event loop into writes of up to 16 KiB; it hands received frames over as views
 * of its read buffer, without copying or decoding them, and counts large
 * frames through without buffering them.
 *
 * @module
 */

import { encodeBase64 } from "@std/encoding/base64";
import { deadline } from "@std/async/deadline";
import {
  concat,
  encodeFrame,
  FrameHead,
  headEnd,
  OPCODE,
  upgradeRequest,
} from "../testkit/frames.ts";

export const OPCODE_TEXT: number = OPCODE.text;
export const OPCODE_BINARY: number = OPCODE.binary;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A client frame, FIN set, masked with a random key: build it once and send
 * it as often as needed.
 */
export function clientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  return encodeFrame(opcode, payload);
}

/** A text frame of `text`. */
export function textFrame(text: string): Uint8Array {
  return clientFrame(OPCODE.text, encoder.encode(text));
}

/** One key per process: the server only echoes it back hashed. */
const KEY = encodeBase64(crypto.getRandomValues(new Uint8Array(16)));

const requests = new Map<string, Uint8Array>();

/** The upgrade request for `hostname:port`, encoded once. */
function upgrade(hostname: string, port: number): Uint8Array {
  const host = `${hostname}:${port}`;
  let request = requests.get(host);
  if (request === undefined) {
    request = encoder.encode(
      upgradeRequest(host, "/", { "sec-websocket-key": KEY }),
    );
    requests.set(host, request);
  }
  return request;
}

/** Writes all of `bytes` to `conn`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

/**
 * What a connection does with each data frame it receives: its opcode, its
 * length, and its payload as a view of the read buffer, valid during the
 * call only, or `null` for a large frame that came over several reads.
 */
export type FrameHandler = (
  opcode: number,
  length: number,
  payload: Uint8Array | null,
) => void;

/** Where to connect, and how. */
export interface ConnectOptions {
  readonly hostname: string;
  readonly port: number;
  /** Bytes of the read buffer: more than the largest frame is best. */
  readonly readBuffer: number;
  /** The handshake must finish within this. */
  readonly timeoutMs: number;
}

/** One client connection, after a successful handshake. */
export class BenchSocket {
  readonly #conn: Deno.Conn;
  readonly #readBuffer: number;
  #queue: Uint8Array[] = [];
  #flushing = false;
  #closeSent = false;
  #ended = false;
  readonly #endWaiters: Array<() => void> = [];
  /** Called for each text, binary or continuation frame. */
  onFrame: FrameHandler = () => {};
  /** Called once when the TCP connection ends. */
  onEnd: () => void = () => {};

  readonly #early: Uint8Array;
  #listening = false;

  private constructor(conn: Deno.Conn, readBuffer: number, early: Uint8Array) {
    this.#conn = conn;
    this.#readBuffer = readBuffer;
    this.#early = early;
  }

  /** Starts reading: each data frame goes to `onFrame`. */
  listen(onFrame: FrameHandler): void {
    this.onFrame = onFrame;
    if (this.#listening) return;
    this.#listening = true;
    this.#readLoop(this.#early);
  }

  /**
   * Connects and upgrades. It reads nothing more until `listen`: frames that
   * came with the 101 response wait for it.
   */
  static async connect(options: ConnectOptions): Promise<BenchSocket> {
    const conn = await Deno.connect({
      hostname: options.hostname,
      port: options.port,
    });
    try {
      conn.setNoDelay(true);
      await writeAll(conn, upgrade(options.hostname, options.port));
      const rest = await deadline(readHead(conn), options.timeoutMs).catch(
        (error: unknown) => {
          throw error instanceof DOMException && error.name === "TimeoutError"
            ? new Error(`no handshake after ${options.timeoutMs} ms`)
            : error;
        },
      );
      return new BenchSocket(conn, options.readBuffer, rest);
    } catch (error) {
      conn.close();
      throw error;
    }
  }

  /** True once the TCP connection has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Queues `frame` (from `clientFrame`); it goes out with the others of this turn. */
  send(frame: Uint8Array): void {
    if (this.#ended || this.#closeSent) return;
    this.#queue.push(frame);
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(this.#flush);
    }
  }

  #flush = async (): Promise<void> => {
    try {
      while (this.#queue.length > 0) {
        const queue = this.#queue;
        this.#queue = [];
        let start = 0;
        while (start < queue.length) {
          // Small frames go together, up to WRITE_BATCH bytes: a burst of
          // 256 KiB in one write makes loopback drop and retransmit.
          let end = start + 1;
          let size = queue[start]!.length;
          while (
            end < queue.length && size + queue[end]!.length <= WRITE_BATCH
          ) {
            size += queue[end]!.length;
            end++;
          }
          await writeAll(
            this.#conn,
            end === start + 1 ? queue[start]! : concat(queue.slice(start, end)),
          );
          start = end;
        }
      }
    } catch {
      this.#end();
    } finally {
      this.#flushing = false;
    }
  };

  /**
   * Sends a close frame (1000) and waits at most `ms` for the server to end
   * the TCP connection; then closes it from this side.
   */
  async close(ms: number): Promise<void> {
    if (!this.#ended && !this.#closeSent) {
      this.send(clientFrame(OPCODE.close, new Uint8Array([0x03, 0xe8])));
      this.#closeSent = true;
    }
    if (!this.#ended) {
      const ended = Promise.withResolvers<void>();
      this.#endWaiters.push(ended.resolve);
      // Ended by the server, or closed from this side after `ms`.
      await deadline(ended.promise, ms).catch(() => {});
    }
    this.#end();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
    for (const resolve of this.#endWaiters.splice(0)) resolve();
    this.onEnd();
  }

  async #readLoop(first: Uint8Array): Promise<void> {
    const buffer = new Uint8Array(this.#readBuffer);
    if (first.length > 0) this.#parse(first);
    while (!this.#ended) {
      let read: number | null;
      try {
        read = await this.#conn.read(buffer);
      } catch {
        read = null;
      }
      if (read === null) break;
      this.#parse(buffer.subarray(0, read));
    }
    this.#end();
  }

  /** Bytes of a streamed frame's payload still to come. */
  #skip = 0;
  #skipOpcode = 0;
  #skipLength = 0;
  /** The start of a frame that the last read cut: a header or a small frame. */
  #carry: Uint8Array = EMPTY;
  /** The header being read, reused for every frame. */
  readonly #head = new FrameHead();

  /**
   * Handles the frames of one read. A data frame over `STREAMED` bytes that
   * a read cuts is counted through rather than buffered: it goes to
   * `onFrame` without its payload once its last byte has come.
   */
  #parse(chunk: Uint8Array): void {
    let data = chunk;
    let at = 0;
    if (this.#skip > 0) {
      at = Math.min(this.#skip, data.length);
      this.#skip -= at;
      if (this.#skip === 0) {
        this.onFrame(this.#skipOpcode, this.#skipLength, null);
      }
    }
    if (this.#carry.length > 0) {
      data = concat([this.#carry, data.subarray(at)]);
      at = 0;
    }
    const end = data.length;
    const frame = this.#head;
    while (frame.read(data, at, end)) {
      const opcode = frame.opcode;
      const length = frame.length;
      const head = frame.size;
      const present = end - at - head;
      if (present < length) {
        if (opcode <= OPCODE.binary && length > STREAMED) {
          this.#skip = length - present;
          this.#skipOpcode = opcode;
          this.#skipLength = length;
          at = end;
        }
        break;
      }
      const payload = data.subarray(at + head, at + head + length);
      at += head + length;
      if (opcode === OPCODE.ping) {
        this.send(clientFrame(OPCODE.pong, payload));
      } else if (opcode === OPCODE.close) {
        if (!this.#closeSent) {
          this.send(clientFrame(OPCODE.close, payload.slice(0, 2)));
          this.#closeSent = true;
        }
      } else if (opcode !== OPCODE.pong) {
        this.onFrame(opcode, length, payload);
      }
    }
    this.#carry = at === end ? EMPTY : data.slice(at);
  }
}

/** The most bytes of queued frames joined into one write. */
const WRITE_BATCH = 16 * 1024;

/** Data frames larger than this are counted through, not buffered, when cut. */
const STREAMED = 1024;
const EMPTY = new Uint8Array(0);

/** Reads the HTTP response head; returns the bytes after it. */
async function readHead(conn: Deno.Conn): Promise<Uint8Array> {
  const buffer = new Uint8Array(4096);
  let data: Uint8Array = EMPTY;
  while (true) {
    const read = await conn.read(buffer);
    if (read === null) throw new Error("connection closed during handshake");
    data = concat([data, buffer.subarray(0, read)]);
    const at = headEnd(data);
    if (at >= 0) {
      const head = decoder.decode(data.subarray(0, at));
      if (!head.startsWith("HTTP/1.1 101")) {
        throw new Error(`handshake refused: ${head.split("\r\n")[0]}`);
      }
      return data.slice(at);
    }
    if (data.length > 65536) throw new Error("handshake response too long");
  }
}

/**
 * What `RedisBackplane` puts on Redis: the names of its channels and the
 * bytes of a broadcast or a topic's publish. Every name starts with the
 * server's channel, and the `channel` option holds no NUL, so a topic's
 * channel, the heartbeats' and an instance's inbox are never another
 * server's broadcast channel.
 *
 * A message: its kind (1 byte: text or binary), 16 bytes naming the
 * instance that sent it (so that it skips its own), then the payload.
 *
 * @module
 */
import type { BackplaneData } from "./backplane.ts";
import { isInstanceId } from "./_liveness.ts";

/** The first byte of a message: what the payload is. */
const TEXT = 0;
const BINARY = 1;
/** Then the bytes naming the instance that published it. */
export const ORIGIN = 16;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** What another process put on a topic's channel is checked. */
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** The channels of the server whose channel is `channel`. */
export const channels = {
  /** The prefix of each topic's channel. */
  topicPrefix: (channel: string): string => `${channel}\u0000topic:`,
  /** Where every instance says it is alive. */
  live: (channel: string): string => `${channel}\u0000live`,
  /** The inbox of the instance `instance`. */
  inbox: (channel: string, instance: string): string =>
    `${channel}\u0000to:${instance}`,
};

/**
 * A message of `data` from the instance `origin`, in memory from `alloc`
 * (node-redis wants a `Buffer`).
 *
 * @example
 * ```ts
 * import { encodeMessage, readMessage } from "./_redis_wire.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const me = new Uint8Array(16).fill(1);
 * const other = new Uint8Array(16).fill(2);
 * const message = encodeMessage(other, "hi", (n) => new Uint8Array(n));
 * assertEquals(readMessage(message, me, true), "hi");
 * assertEquals(readMessage(message, other, true), undefined);
 * ```
 */
export function encodeMessage<B extends Uint8Array>(
  origin: Uint8Array,
  data: BackplaneData,
  alloc: (size: number) => B,
): B {
  const text = typeof data === "string";
  const payload = text ? encoder.encode(data) : data;
  const message = alloc(1 + ORIGIN + payload.byteLength);
  message[0] = text ? TEXT : BINARY;
  message.set(origin, 1);
  message.set(payload, 1 + ORIGIN);
  return message;
}

/**
 * The data of `message`, or `undefined` for one too short or sent by
 * `origin` (this instance). `strict` (what any process may put on a topic's
 * channel): an unknown kind or text that is not UTF-8 is `undefined` too;
 * else any kind but text is binary, and text is decoded leniently.
 */
export function readMessage(
  message: Uint8Array,
  origin: Uint8Array,
  strict: boolean,
): BackplaneData | undefined {
  if (message.length < 1 + ORIGIN) return undefined;
  const kind = message[0];
  if (strict && kind !== TEXT && kind !== BINARY) return undefined;
  const from = message.subarray(1, 1 + ORIGIN);
  if (from.every((byte, i) => byte === origin[i])) return undefined;
  const payload = message.subarray(1 + ORIGIN);
  if (kind !== TEXT) return new Uint8Array(payload);
  if (!strict) return decoder.decode(payload);
  try {
    return strictDecoder.decode(payload);
  } catch {
    return undefined;
  }
}

/**
 * A message sent to one instance (`<channel>\0to:<id>`): the sender's id,
 * then the bytes (a view of `message`, not copied: its one reader, the
 * cluster, copies what it keeps); null for one too short, from no instance
 * id, or from `self`.
 *
 * @example
 * ```ts
 * import { readDirect } from "./_redis_wire.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const message = new TextEncoder().encode("abcd1234hi");
 * assertEquals(readDirect(message, "zzzz9999")?.from, "abcd1234");
 * assertEquals(readDirect(message, "zzzz9999")?.data.buffer, message.buffer);
 * assertEquals(readDirect(message, "abcd1234"), null);
 * ```
 */
export function readDirect(
  message: Uint8Array,
  self: string,
): { from: string; data: Uint8Array } | null {
  const length = self.length;
  if (message.length < length) return null;
  const from = decoder.decode(message.subarray(0, length));
  if (!isInstanceId(from) || from === self) return null;
  // A plain view (not node's `Buffer`, whose `slice` does not copy).
  const data = new Uint8Array(
    message.buffer,
    message.byteOffset + length,
    message.byteLength - length,
  );
  return { from, data };
}

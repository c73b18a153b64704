// This module is browser compatible.
/**
 * The relay's messages between two instances of a server, sent to one
 * instance alone through the backplane (`Backplane.sendTo`). The relaying
 * instance holds a client's socket; the owner holds its session. Each
 * message is binary: its kind (1 byte), the relay's id (16 random bytes,
 * chosen by the relaying instance), then its payload:
 *
 * | kind | name     | way            | payload                                         |
 * | ---: | -------- | -------------- | ----------------------------------------------- |
 * |    1 | open     | relay -> owner | UTF-8 JSON `{ s, p, r }`: selector, proof, count |
 * |    2 | accepted | owner -> relay | none                                            |
 * |    3 | refused  | owner -> relay | none                                            |
 * |    4 | text     | both ways      | a text frame, UTF-8                             |
 * |    5 | binary   | both ways      | a binary frame's bytes                          |
 * |    6 | close    | owner -> relay | code (2 bytes), wasClean (1 byte), reason       |
 * |    7 | closed   | relay -> owner | code (2 bytes), wasClean (1 byte), reason       |
 * |    8 | buffered | relay -> owner | the socket's `bufferedAmount` (8 bytes)         |
 *
 * The token never travels: `open` carries its selector (the owner's index)
 * and a proof, SHA-256 of the token and the relay's id, which the owner
 * computes too; a relay id is taken once, so a replayed `open` is refused.
 *
 * @module
 */
import { decodeBase64Url, encodeBase64Url } from "@std/encoding/base64url";

/** The kinds of relay messages: 1 to 8, a range (`readRelay` checks it). */
export const Kind = {
  Open: 1,
  Accepted: 2,
  Refused: 3,
  Text: 4,
  Binary: 5,
  Close: 6,
  Closed: 7,
  Buffered: 8,
} as const;

/** A kind of relay message. */
export type KindValue = typeof Kind[keyof typeof Kind];

/** The length of a relay's id, in bytes. */
const RELAY_ID_BYTES = 16;
const HEADER = 1 + RELAY_ID_BYTES;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A relay message, read. */
export interface RelayMessage {
  readonly kind: KindValue;
  /** The relay's id, as base64url. */
  readonly relay: string;
  readonly payload: Uint8Array;
}

/** A new relay id, as base64url. */
export function createRelayId(): string {
  return encodeBase64Url(
    crypto.getRandomValues(new Uint8Array(RELAY_ID_BYTES)),
  );
}

/**
 * The bytes of a relay's id (its base64url), decoded once per relay: each
 * of its messages starts with them.
 *
 * @example
 * ```ts
 * import { createRelayId, relayIdBytes } from "./_relay_wire.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(relayIdBytes(createRelayId()).byteLength, 16);
 * assertThrows(() => relayIdBytes("AAAA"), RangeError);
 * ```
 */
export function relayIdBytes(relay: string): Uint8Array {
  const id = decodeBase64Url(relay);
  if (id.byteLength !== RELAY_ID_BYTES) {
    throw new RangeError(`A relay id is ${RELAY_ID_BYTES} bytes`);
  }
  return id;
}

/**
 * A relay message to send: `id` is the relay's ({@linkcode relayIdBytes}),
 * `payload` is copied in (the one copy of a relayed frame).
 *
 * @example
 * ```ts
 * import { createRelayId, encodeRelay, Kind, readRelay, relayIdBytes } from "./_relay_wire.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const relay = createRelayId();
 * const id = relayIdBytes(relay);
 * const read = readRelay(encodeRelay(Kind.Text, id, new TextEncoder().encode("hi")));
 * assertEquals(read?.kind, Kind.Text);
 * assertEquals(read?.relay, relay);
 * assertEquals(new TextDecoder().decode(read?.payload), "hi");
 * assertEquals(readRelay(Uint8Array.of(99, ...id)), null);
 * assertEquals(readRelay(Uint8Array.of(0, ...id)), null);
 * assertEquals(readRelay(Uint8Array.of(1, 2)), null);
 * ```
 */
export function encodeRelay(
  kind: KindValue,
  id: Uint8Array,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const message = new Uint8Array(HEADER + payload.byteLength);
  message[0] = kind;
  message.set(id, 1);
  message.set(payload, HEADER);
  return message;
}

/** Whether `value` (a byte) is a kind of relay message. */
function isKind(value: number | undefined): value is KindValue {
  return value !== undefined && value >= Kind.Open && value <= Kind.Buffered;
}

/**
 * A relay message read from the backplane; `null` for anything else. Its
 * payload is a plain `Uint8Array` over the memory of `data` (not node's
 * `Buffer`, whose `slice` is a view: `encodeBase64Url` would detach it).
 */
export function readRelay(data: Uint8Array): RelayMessage | null {
  if (!(data instanceof Uint8Array) || data.byteLength < HEADER) return null;
  const kind = data[0];
  if (!isKind(kind)) return null;
  const view = data.constructor === Uint8Array
    ? data
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return {
    kind,
    relay: encodeBase64Url(view.subarray(1, HEADER)),
    payload: view.subarray(HEADER),
  };
}

/** What `open` carries: the selector, the proof, the client's count. */
export interface OpenRequest {
  readonly selector: string;
  readonly proof: string;
  readonly received: number;
}

/** The payload of `open`. */
export function encodeOpen(open: OpenRequest): Uint8Array {
  return encoder.encode(
    JSON.stringify({ s: open.selector, p: open.proof, r: open.received }),
  );
}

/** An `open`'s payload; `null` where malformed. */
export function readOpen(payload: Uint8Array): OpenRequest | null {
  if (payload.byteLength > 1024) return null;
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(payload));
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const selector: unknown = Reflect.get(value, "s");
  const proof: unknown = Reflect.get(value, "p");
  const received: unknown = Reflect.get(value, "r");
  if (
    typeof selector !== "string" || typeof proof !== "string" ||
    typeof received !== "number" || !Number.isSafeInteger(received) ||
    received < 0
  ) return null;
  return { selector, proof, received };
}

/**
 * The proof that a relay holds a session's token: SHA-256 of the token
 * and the relay's id, as base64url. It is bound to the relay: a proof seen
 * on the channel opens no other relay.
 */
export async function tokenProof(
  token: string,
  relay: string,
): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    encoder.encode(`${token}.${relay}`),
  );
  return encodeBase64Url(new Uint8Array(digest));
}

/** A close code and reason (and `wasClean` for `closed`). */
export interface RelayClose {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** The payload of `close` and `closed`. */
export function encodeClose(close: RelayClose): Uint8Array {
  const reason = encoder.encode(close.reason);
  const payload = new Uint8Array(3 + reason.byteLength);
  new DataView(payload.buffer).setUint16(0, close.code);
  payload[2] = close.wasClean ? 1 : 0;
  payload.set(reason, 3);
  return payload;
}

/** A `close` or `closed` payload; `null` where malformed. */
export function readClose(payload: Uint8Array): RelayClose | null {
  if (payload.byteLength < 3 || payload.byteLength > 3 + 123) return null;
  const code = new DataView(payload.buffer, payload.byteOffset, 2).getUint16(
    0,
  );
  let reason: string;
  try {
    reason = decoder.decode(payload.subarray(3));
  } catch {
    return null;
  }
  return { code, reason, wasClean: payload[2] === 1 };
}

/** The payload of `buffered`. */
export function encodeAmount(amount: number): Uint8Array {
  const payload = new Uint8Array(8);
  new DataView(payload.buffer).setFloat64(0, amount);
  return payload;
}

/** A `buffered` payload; `null` where malformed. */
export function readAmount(payload: Uint8Array): number | null {
  if (payload.byteLength !== 8) return null;
  const amount = new DataView(payload.buffer, payload.byteOffset, 8)
    .getFloat64(0);
  return Number.isFinite(amount) && amount >= 0 ? amount : null;
}

/** A text frame's payload. */
export function textPayload(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A text frame from its payload; `null` for invalid UTF-8. */
export function readText(payload: Uint8Array): string | null {
  try {
    return decoder.decode(payload);
  } catch {
    return null;
  }
}

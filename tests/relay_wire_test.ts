/**
 * The relay's messages as a backplane may hand them over: a node `Buffer`
 * (the Redis client's) over a larger piece of memory, whose `slice` is a
 * view and whose memory must stay whole (`encodeBase64Url` transfers what
 * it is given a `slice` of).
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { Buffer } from "node:buffer";
import type { Frame } from "../_codec.ts";
import type { LinkReceiver } from "../_link.ts";
import { type RelayChannel, RelayLink } from "../_relay.ts";
import {
  createRelayId,
  encodeRelay,
  Kind,
  readRelay,
  relayIdBytes,
} from "../_relay_wire.ts";

/** `message` in the middle of a Buffer over more memory, as a pool gives. */
function pooled(message: Uint8Array): Buffer {
  const memory = Buffer.alloc(message.byteLength + 64, 0xee);
  memory.set(message, 32);
  return memory.subarray(32, 32 + message.byteLength);
}

Deno.test("readRelay of a node Buffer: the id and payload read, the Buffer's memory left whole", () => {
  const relay = createRelayId();
  const data = pooled(
    encodeRelay(Kind.Binary, relayIdBytes(relay), Uint8Array.of(1, 2, 3)),
  );
  const memory = data.buffer.byteLength;
  const read = readRelay(data);
  assertEquals(read?.kind, Kind.Binary);
  assertEquals(read?.relay, relay);
  assertEquals([...read?.payload ?? []], [1, 2, 3]);
  assertEquals(data.buffer.byteLength, memory, "the Buffer's memory detached");
  assertEquals([...data.subarray(17)], [1, 2, 3]);
});

Deno.test("RelayLink: a binary payload in a node Buffer arrives as its bytes alone, copied", async () => {
  const channel: RelayChannel = { sendTo: () => true, forget: () => {} };
  const relay = createRelayId();
  const link = new RelayLink(channel, "AAAAAAAA", relay);
  const received: Frame[] = [];
  const receiver: LinkReceiver = {
    linkOpened: () => {},
    linkReceived: (frame) => received.push(frame),
    linkFaulted: () => {},
    linkClosed: () => {},
  };
  link.listen(receiver);
  // A payload as any backplane may give it: a view over more memory.
  const payload = pooled(Uint8Array.of(4, 5, 6));
  link.received(Kind.Binary, payload);
  payload.fill(0);
  assertEquals(received.length, 1);
  const frame = received[0];
  assertEquals(
    frame instanceof ArrayBuffer ? [...new Uint8Array(frame)] : frame,
    [4, 5, 6],
  );
  link.abort();
  await Promise.resolve(); // its end is told a microtask later
});

/**
 * The RFC 6455 frame module shared by the tests' raw peers and the
 * benchmark's client (`testkit/frames.ts`).
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import {
  closePayload,
  decodeClose,
  decodeFrames,
  encodeFrame,
  FrameHead,
  headEnd,
  OPCODE,
  upgradeRequest,
} from "../testkit/frames.ts";

const bytes = (length: number) =>
  Uint8Array.from({ length }, (_, i) => (i * 7) & 0xff);

Deno.test("encodeFrame/decodeFrames: 7-, 16- and 64-bit lengths, masked and not, round-trip", () => {
  for (const length of [0, 125, 126, 65535, 65536]) {
    for (const mask of [true, false]) {
      const payload = bytes(length);
      const frame = encodeFrame(OPCODE.binary, payload, { mask });
      const head = length < 126 ? 2 : length < 65536 ? 4 : 10;
      assertEquals(frame.length, head + (mask ? 4 : 0) + length);
      const { frames, rest } = decodeFrames(frame);
      assertEquals(rest, frame.length);
      assertEquals(frames.length, 1);
      assertEquals(frames[0]?.opcode, OPCODE.binary);
      assertEquals(frames[0]?.fin, true);
      assertEquals(frames[0]?.payload, payload);
    }
  }
});

Deno.test("encodeFrame: FIN, RSV, the given key, and the XOR of the payload", () => {
  const key = new Uint8Array([1, 2, 3, 4]);
  const frame = encodeFrame(OPCODE.text, new Uint8Array([10, 20, 30, 40, 50]), {
    fin: false,
    rsv: 4,
    key,
  });
  assertEquals(
    [...frame],
    [0x40 | 0x1, 0x80 | 5, 1, 2, 3, 4, 10 ^ 1, 20 ^ 2, 30 ^ 3, 40 ^ 4, 50 ^ 1],
  );
  const head = new FrameHead();
  assert(head.read(frame, 0));
  assertEquals(
    [head.fin, head.rsv, head.opcode, head.masked, head.length, head.size],
    [false, 4, OPCODE.text, true, 5, 6],
  );
});

Deno.test("decodeFrames stops at an incomplete frame; FrameHead needs the whole header", () => {
  const one = encodeFrame(OPCODE.ping, bytes(3), { mask: false });
  const two = encodeFrame(OPCODE.text, bytes(300), { mask: false });
  const all = new Uint8Array([...one, ...two]);
  for (let cut = 0; cut < all.length; cut++) {
    const { frames, rest } = decodeFrames(all.subarray(0, cut));
    assertEquals(frames.length, cut < one.length ? 0 : 1);
    assertEquals(rest, cut < one.length ? 0 : one.length);
  }
  const head = new FrameHead();
  assertEquals(head.read(two, 0, 3), false);
  assertEquals(head.read(two, 0, 4), true);
});

Deno.test("close payloads, upgrade requests and the end of an HTTP head", () => {
  assertEquals(decodeClose(closePayload(1008, "rate limit")), [
    1008,
    "rate limit",
  ]);
  assertEquals(decodeClose(new Uint8Array(0)), [1005, ""]);
  const request = upgradeRequest("127.0.0.1:80", "/chat", {
    origin: "http://a",
    "sec-websocket-version": "",
  });
  assert(request.startsWith("GET /chat HTTP/1.1\r\nhost: 127.0.0.1:80\r\n"));
  assert(request.includes("origin: http://a\r\n"));
  assert(!request.includes("sec-websocket-version"));
  const encoded = new TextEncoder().encode(`${request}xy`);
  assertEquals(headEnd(encoded), encoded.length - 2);
  assertEquals(headEnd(new TextEncoder().encode("HTTP/1.1 101\r\n")), -1);
});

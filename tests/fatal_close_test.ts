/**
 * Every fatal close reaches a peer that keeps sending (issue 11, point 4): a
 * raw peer writes three frames in one write, the second of them fatal, and
 * must read the server's close frame with its code, not a cut TCP. Deno cuts
 * the TCP before the close frame when a server socket is closed inside its
 * `message` event while more frames wait.
 *
 * @module
 */
import { assertEquals, assertMatch } from "@std/assert";
import type { WebSocketServerOptions, WSConnectionHandler } from "../mod.ts";
import { concat } from "../testkit/frames.ts";
import { listen, Recorder } from "./_helpers.ts";
import {
  buildFrame,
  closeOf,
  rawPeer,
  readFramesUntil,
  type ServerFrame,
} from "../testkit/raw_peer.ts";

const TEXT = 0x1;
const BINARY = 0x2;
const CLOSE = 0x8;
const utf8 = (text: string) => new TextEncoder().encode(text);

/**
 * The raw peer's three frames in one write; the close frame it reads. The
 * connection's handler records, then does what `acts` says.
 */
async function threeFrames(
  options: WebSocketServerOptions,
  second: Uint8Array | [opcode: number, payload: Uint8Array],
  acts: Partial<WSConnectionHandler> = {},
): Promise<{ code: number; reason: string; recorder: Recorder }> {
  const recorder = new Recorder(acts);
  await using server = listen({ onConnection: () => recorder }, {
    closeTimeout: 2,
    ...options,
  });
  const peer = await rawPeer(server.port);
  assertMatch(peer.head, /^HTTP\/1\.1 101/);
  await peer.conn.write(concat([
    buildFrame(TEXT, utf8("fine")),
    Array.isArray(second) ? buildFrame(...second) : buildFrame(TEXT, second),
    buildFrame(TEXT, utf8("more")),
  ]));
  const isClose = (f: ServerFrame) => f.opcode === CLOSE;
  const got = await readFramesUntil(
    peer.conn,
    (fs) => fs.some(isClose),
    "the server's close frame",
  );
  const [code, reason] = closeOf(got.find(isClose) as ServerFrame);
  // Answer as a polite peer does, then go.
  await peer.conn.write(
    buildFrame(CLOSE, new Uint8Array([code >> 8, code & 255])),
  );
  await recorder.terminated();
  await peer.readToEnd();
  peer.conn.close();
  return { code, reason, recorder };
}

// A text frame of invalid UTF-8 is failed by Deno's engine itself, which
// cuts the TCP (pinned in hostile_test.ts); bytes that must be text under
// "text" are ws4d's to refuse, with a close frame.
Deno.test("A fatal close reaches a peer that keeps sending: binary bytes that are not UTF-8 under text, 1007", async () => {
  const { code, reason, recorder } = await threeFrames(
    {},
    [BINARY, new Uint8Array([0xff, 0xfe])],
  );
  assertEquals([code, reason], [1007, "invalid UTF-8"]);
  assertEquals(recorder.messages, ["fine"]);
  assertEquals(recorder.calls.at(-1)?.event.code, 1007);
});

Deno.test("A fatal close reaches a peer that keeps sending: invalid JSON under object, 1007", async () => {
  const { code, reason } = await threeFrames(
    { dataType: "object" },
    utf8("{not json"),
  );
  assertEquals([code, reason], [1007, "invalid JSON"]);
});

Deno.test("A fatal close reaches a peer that keeps sending: a message over maxMessageSize, 1009", async () => {
  const { code, reason } = await threeFrames(
    { maxMessageSize: 8 },
    utf8("far too long for eight bytes"),
  );
  assertEquals([code, reason], [1009, "message too large"]);
});

Deno.test("A fatal close reaches a peer that keeps sending: a callback that throws, 1011", async () => {
  const { code, reason, recorder } = await threeFrames(
    {},
    utf8("boom"),
    {
      onMessage(_ws, event) {
        if (event.data === "boom") throw new Error("boom");
      },
    },
  );
  assertEquals([code, reason], [1011, "server error"]);
  assertEquals(recorder.types, [
    "open",
    "message",
    "message",
    "error",
    "terminate",
  ]);
});

Deno.test("A fatal close reaches a peer that keeps sending: a slow consumer, 1008", async () => {
  const { code, reason } = await threeFrames(
    { maxBufferedAmount: 1024 },
    utf8("flood me"),
    {
      onMessage(ws, event) {
        if (event.data === "flood me") ws.send("x".repeat(64 * 1024));
      },
    },
  );
  assertEquals([code, reason], [1008, "slow consumer"]);
});

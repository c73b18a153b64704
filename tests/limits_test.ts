/**
 * The abuse limits (issue 14): `rateLimit`, a token bucket per connection,
 * and `maxConnectionsPerAddress`. A flooding raw peer is closed with 1008
 * while a well-behaved client on the same server keeps its rate and loses
 * nothing. The bucket's refill is on a fake clock (`FakeTime`, and
 * `performance.now` with it, which the bucket reads): each test says the
 * millisecond a message is refilled.
 *
 * @module
 */
import { assertEquals, assertExists, assertThrows } from "@std/assert";
import { ErrorCode, WebSocketServer } from "../mod.ts";
import { FakeClock, within } from "./_fake_clock.ts";
import { concat } from "../testkit/frames.ts";
import { connect, hangUp, listen, Recorder } from "./_helpers.ts";
import {
  buildFrame,
  closeOf,
  rawPeer,
  readFramesUntil,
} from "../testkit/raw_peer.ts";

const TEXT = 0x1;
const CLOSE = 0x8;

Deno.test("rateLimit on a fake clock: a flooding peer gets exactly one window, then RateLimited and 1008; a polite one on the same server keeps its rate and loses nothing", async () => {
  const recorders: Recorder[] = [];
  await using server = listen({
    onConnection: () => {
      const recorder = new Recorder({
        onMessage: (ws, event) => void ws.send(event.data),
      });
      recorders.push(recorder);
      return recorder;
    },
  }, { rateLimit: { messages: 50, per: 0.5 }, closeTimeout: 1 });
  // The clock stands still while the flood is handled: no refill at all.
  using time = new FakeClock();
  // The flood: 500 frames in one write, far past 50 per 0.5 s.
  const flood = await rawPeer(server.port);
  const frames = Array.from(
    { length: 500 },
    (_, i) => buildFrame(TEXT, new TextEncoder().encode(`f${i}`)),
  );
  // The polite peer: 40 messages, under the bucket of 50.
  const polite = await connect(server.url);
  await flood.conn.write(concat(frames));
  const flooder = recorders[0];
  assertExists(flooder);
  await flooder.when((c) => c.name === "onError", "the flood's onError");
  // The close goes out a task later.
  await time.advance(0);
  const got = await within(
    readFramesUntil(
      flood.conn,
      (fs) => fs.some((f) => f.opcode === CLOSE),
      "the flood's close frame",
    ),
    "the flood's close frame",
  );
  const close = got.find((f) => f.opcode === CLOSE);
  assertExists(close);
  assertEquals(closeOf(close), [1008, "rate limit"]);
  // The bucket holds one window: 50 went through, the 51st was refused.
  assertEquals(got.filter((f) => f.opcode === TEXT).length, 50);
  await flood.conn.write(buildFrame(CLOSE, new Uint8Array([0x03, 0xf0])));
  await flooder.terminated();
  assertEquals(flooder.errors.map((e) => e.errCode), [
    ErrorCode.RateLimited,
  ]);
  assertEquals(flooder.calls.at(-1)?.event.code, 1008);
  await flood.readToEnd();
  flood.conn.close();
  for (let i = 0; i < 40; i++) polite.socket.send(`p${i}`);
  await polite.received(40);
  assertEquals(
    polite.messages,
    Array.from({ length: 40 }, (_, i) => `p${i}`),
  );
  assertEquals(recorders[1]?.errors, []);
  assertEquals(server.wss.stats.limits.rateLimit, 1);
  assertEquals(server.wss.stats.errors.RateLimited, 1);
  await hangUp(polite);
});

/**
 * An echo server with `rateLimit`, on a fake clock, and a client on it:
 * `send` sends and waits for the echoes, `refused` sends one more and
 * waits for the close that the limit gives.
 */
async function limitedEcho(rateLimit: { messages?: number; bytes?: number }) {
  const recorder = new Recorder({
    onMessage: (ws, event) => void ws.send(event.data),
  });
  const server = listen({ onConnection: () => recorder }, { rateLimit });
  const time = new FakeClock();
  const peer = await connect(server.url);
  return {
    time,
    recorder,
    /** Sends each text; resolves once all are echoed. */
    async send(...texts: string[]): Promise<void> {
      const goal = peer.messages.length + texts.length;
      for (const text of texts) peer.socket.send(text);
      await peer.received(goal);
    },
    /** Sends `text`; resolves with the close code the client then got. */
    async refused(text: string): Promise<number> {
      peer.socket.send(text);
      await recorder.when((c) => c.name === "onError", `onError for ${text}`);
      await time.advance(0); // The close goes out a task later.
      const { code } = await within(peer.closed, "the close");
      await recorder.terminated();
      return code;
    },
    get echoed(): unknown[] {
      return peer.messages;
    },
    async [Symbol.asyncDispose]() {
      time.restore();
      await server.wss.terminate();
    },
  };
}

Deno.test("rateLimit on a fake clock: 5 messages per second refill one every 200 ms: one more at 200 ms, none at 199 ms", async () => {
  await using echo = await limitedEcho({ messages: 5 });
  await echo.send("a1", "a2", "a3", "a4", "a5"); // the whole bucket
  await echo.time.advance(200);
  await echo.send("b1"); // one refilled
  await echo.time.advance(199);
  assertEquals(await echo.refused("c1"), 1008); // 0.995 of one: not yet
  assertEquals(echo.echoed, ["a1", "a2", "a3", "a4", "a5", "b1"]);
  assertEquals(echo.recorder.messages, echo.echoed);
  assertEquals(echo.recorder.errors.map((e) => e.errCode), [
    ErrorCode.RateLimited,
  ]);
});

Deno.test("rateLimit on a fake clock: the bucket never holds more than one window, however long the quiet", async () => {
  await using echo = await limitedEcho({ messages: 5 });
  await echo.time.advance(60_000);
  await echo.send("1", "2", "3", "4", "5");
  assertEquals(await echo.refused("6"), 1008);
  assertEquals(echo.echoed, ["1", "2", "3", "4", "5"]);
});

Deno.test("rateLimit on a fake clock: 10 bytes per second refill 3 bytes at 300 ms, not at 299 ms", async () => {
  await using echo = await limitedEcho({ bytes: 10 });
  await echo.send("0123456789"); // the whole bucket
  await echo.time.advance(300);
  await echo.send("abc");
  await echo.time.advance(299);
  assertEquals(await echo.refused("xyz"), 1008); // 2.99 bytes: short
  assertEquals(echo.echoed, ["0123456789", "abc"]);
});

Deno.test("maxConnectionsPerAddress: 429 with Retry-After past it, accepted again once one closes", async () => {
  const recorders: Recorder[] = [];
  await using server = listen({
    onConnection: () => {
      const recorder = new Recorder();
      recorders.push(recorder);
      return recorder;
    },
  }, { maxConnectionsPerAddress: 2 });
  const first = await connect(server.url);
  const second = await connect(server.url);
  const third = await fetch(`http://127.0.0.1:${server.port}/`, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  assertEquals(third.status, 429);
  assertEquals(third.headers.get("retry-after"), "1");
  await third.body?.cancel();
  assertEquals(recorders.length, 2, "onConnection is not called for it");
  await hangUp(first);
  const firstRecorder = recorders[0];
  assertExists(firstRecorder);
  await firstRecorder.terminated();
  const again = await connect(server.url);
  assertEquals(recorders.length, 3);
  assertEquals(server.wss.stats.refused, { "429": 1 });
  assertEquals(server.wss.stats.limits.maxConnectionsPerAddress, 1);
  await hangUp(second);
  await hangUp(again);
});

Deno.test("maxConnectionsPerAddress: addressKey keys the count on something else (a proxy's header)", async () => {
  const wss = new WebSocketServer({ onConnection: () => null }, {
    maxConnectionsPerAddress: 1,
    addressKey: (request) =>
      request.headers.get("x-forwarded-for") ?? "unknown",
  });
  const upgrade = (from: string) =>
    new Request("http://localhost/", {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
        "x-forwarded-for": from,
      },
    });
  // Refused by onConnection (403): the place is released each time.
  for (const from of ["1.1.1.1", "1.1.1.1", "2.2.2.2"]) {
    const answer = await wss.fetch(upgrade(from));
    assertEquals(answer.status, 403);
    await answer.body?.cancel();
  }
  assertEquals(wss.stats.refused, { "403": 3 });
  await wss.terminate();
});

Deno.test("limits: bad values get TypeError or RangeError naming the option", () => {
  const ok = { onConnection: () => null };
  const cases: [
    Record<string, unknown>,
    typeof TypeError | typeof RangeError,
    string,
  ][] = [
    [{ rateLimit: 5 }, TypeError, "options.rateLimit must be an object"],
    [
      { rateLimit: {} },
      TypeError,
      "options.rateLimit needs messages, bytes or both",
    ],
    [
      { rateLimit: { messages: 0 } },
      RangeError,
      "options.rateLimit.messages",
    ],
    [{ rateLimit: { bytes: "1" } }, TypeError, "options.rateLimit.bytes"],
    [
      { rateLimit: { messages: 1, per: 0 } },
      RangeError,
      "options.rateLimit.per",
    ],
    [
      { rateLimit: { messages: 1, every: 1 } },
      TypeError,
      "options.rateLimit.every is not an option",
    ],
    [
      { maxConnectionsPerAddress: 0 },
      RangeError,
      "options.maxConnectionsPerAddress",
    ],
    [
      { maxConnectionsPerAddress: 1.5 },
      RangeError,
      "options.maxConnectionsPerAddress",
    ],
    [
      { addressKey: "x-forwarded-for" },
      TypeError,
      "options.addressKey must be a function",
    ],
  ];
  for (const [options, ErrorClass, message] of cases) {
    assertThrows(
      () => new WebSocketServer(ok, options as never),
      ErrorClass,
      message,
      JSON.stringify(options),
    );
  }
});

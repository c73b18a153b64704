/**
 * The abuse limits (issue 14): `rateLimit`, a token bucket per connection,
 * and `maxConnectionsPerAddress`. A flooding raw peer is closed with 1008
 * while a well-behaved client on the same server keeps its rate and loses
 * nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ErrorCode, WebSocketServer } from "../mod.ts";
import { connect, deadline, hangUp, listen, Recorder } from "./_helpers.ts";
import { buildFrame, closeOf, rawPeer, readFramesUntil } from "./_raw.ts";

const TEXT = 0x1;
const CLOSE = 0x8;

Deno.test("rateLimit: a flooding peer gets RateLimited and 1008; a polite one on the same server keeps its rate and loses nothing", async () => {
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
  // The flood: 500 frames in one write, far past 50 per 0.5 s.
  const flood = await rawPeer(server.port);
  const frames = Array.from(
    { length: 500 },
    (_, i) => buildFrame(TEXT, new TextEncoder().encode(`f${i}`)),
  );
  const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  frames.reduce((at, f) => (all.set(f, at), at + f.length), 0);
  // The polite peer: 40 messages, under the bucket of 50.
  const polite = await connect(server.url);
  await flood.conn.write(all);
  const got = await readFramesUntil(
    flood.conn,
    (fs) => fs.some((f) => f.opcode === CLOSE),
    "the flood's close frame",
  );
  const close = got.find((f) => f.opcode === CLOSE);
  assert.deepEqual(closeOf(close!), [1008, "rate limit"]);
  // The bucket holds one window: 50 went through, and what refilled while
  // they were handled (100 a second: a few at most), before the limit.
  const echoed = got.filter((f) => f.opcode === TEXT).length;
  assert.ok(echoed >= 50 && echoed < 60, `${echoed} echoed`);
  await flood.conn.write(buildFrame(CLOSE, new Uint8Array([0x03, 0xf0])));
  const flooder = recorders[0] as Recorder;
  await flooder.terminated();
  assert.deepEqual(flooder.errors.map((e) => e.errCode), [
    ErrorCode.RateLimited,
  ]);
  assert.equal(flooder.calls.at(-1)?.event.code, 1008);
  await flood.readToEnd();
  flood.conn.close();
  for (let i = 0; i < 40; i++) polite.socket.send(`p${i}`);
  await polite.received(40);
  assert.deepEqual(
    polite.messages,
    Array.from({ length: 40 }, (_, i) => `p${i}`),
  );
  assert.equal((recorders[1] as Recorder).errors.length, 0);
  assert.equal(server.wss.stats.limits.rateLimit, 1);
  assert.equal(server.wss.stats.errors.RateLimited, 1);
  await hangUp(polite);
});

Deno.test("rateLimit on bytes: a message past the window's bytes is refused", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    rateLimit: { bytes: 10 },
  });
  const peer = await connect(server.url);
  peer.socket.send("0123456789"); // 10 bytes: the whole window
  peer.socket.send("x"); // one more: over
  const closed = await deadline(peer.closed, "the close");
  assert.equal(closed.code, 1008);
  await recorder.terminated();
  assert.deepEqual(recorder.messages, ["0123456789"]);
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
  assert.equal(third.status, 429);
  assert.equal(third.headers.get("retry-after"), "1");
  await third.body?.cancel();
  assert.equal(recorders.length, 2, "onConnection is not called for it");
  await hangUp(first);
  await (recorders[0] as Recorder).terminated();
  const again = await connect(server.url);
  assert.equal(recorders.length, 3);
  assert.deepEqual(server.wss.stats.refused, { "429": 1 });
  assert.equal(server.wss.stats.limits.maxConnectionsPerAddress, 1);
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
    assert.equal(answer.status, 403);
    await answer.body?.cancel();
  }
  assert.deepEqual(wss.stats.refused, { "403": 3 });
  await wss.terminate();
});

Deno.test("limits: bad values get TypeError or RangeError naming the option", () => {
  const ok = { onConnection: () => null };
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ rateLimit: 5 }, "TypeError", /options\.rateLimit must be an object/],
    [
      { rateLimit: {} },
      "TypeError",
      /options\.rateLimit needs messages, bytes or both/,
    ],
    [
      { rateLimit: { messages: 0 } },
      "RangeError",
      /options\.rateLimit\.messages/,
    ],
    [{ rateLimit: { bytes: "1" } }, "TypeError", /options\.rateLimit\.bytes/],
    [
      { rateLimit: { messages: 1, per: 0 } },
      "RangeError",
      /options\.rateLimit\.per/,
    ],
    [
      { rateLimit: { messages: 1, every: 1 } },
      "TypeError",
      /options\.rateLimit\.every is not an option/,
    ],
    [
      { maxConnectionsPerAddress: 0 },
      "RangeError",
      /options\.maxConnectionsPerAddress/,
    ],
    [
      { maxConnectionsPerAddress: 1.5 },
      "RangeError",
      /options\.maxConnectionsPerAddress/,
    ],
    [
      { addressKey: "x-forwarded-for" },
      "TypeError",
      /options\.addressKey must be a function/,
    ],
  ];
  for (const [options, name, message] of cases) {
    assert.throws(
      () => new WebSocketServer(ok, options as never),
      { name, message },
      JSON.stringify(options),
    );
  }
});

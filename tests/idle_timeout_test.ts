/**
 * `idleTimeout` (SPEC.md, WebSocketServer options): "seconds without a pong
 * before the connection is closed as dead (Deno pings)". The timer is
 * Deno's own, inside the socket that `Deno.upgradeWebSocket` makes, where
 * `FakeTime` cannot reach: what ws4d does is to check the option and hand
 * it to Deno, and to report Deno's close as `onTerminate`. Those are tested
 * here without any clock; then, in real time bounded small (0.2 s), a raw
 * peer that never answers Deno's ping is closed 1001, and one that answers
 * stays through three rounds, both by the frames they get, not by a clock.
 *
 * @module
 */
import { assertEquals, assertExists, assertThrows } from "@std/assert";
import { WebSocketServer, type WebSocketServerOptions } from "../mod.ts";
import { noteUpgrades, type Upgrade } from "./_fake_clock.ts";
import { concat, decodeFrames } from "../testkit/frames.ts";
import { deadline } from "@std/async/deadline";
import { connect, hangUp, listen, Recorder } from "./_helpers.ts";
import {
  buildFrame,
  closeOf,
  rawPeer,
  readFramesUntil,
} from "../testkit/raw_peer.ts";

const PING = 0x9;
const PONG = 0xa;
const CLOSE = 0x8;

for (
  const [options, expected] of [
    [{}, 30],
    [{ idleTimeout: 7 }, 7],
    [{ idleTimeout: 0.2 }, 0.2],
    [{ idleTimeout: 0 }, 0],
  ] as [WebSocketServerOptions, number][]
) {
  Deno.test(`idleTimeout: ${JSON.stringify(options)} gives Deno.upgradeWebSocket idleTimeout ${expected}`, async () => {
    const upgrades: Upgrade[] = [];
    using _upgrading = noteUpgrades(upgrades);
    const recorder = new Recorder();
    await using server = listen({ onConnection: () => recorder }, options);
    const peer = await connect(server.url);
    await recorder.opened();
    assertEquals(upgrades.length, 1);
    assertEquals(upgrades[0]?.options, { idleTimeout: expected });
    await hangUp(peer);
  });
}

Deno.test("idleTimeout: a value that is not a number ≥ 0 throws, naming the option", () => {
  const ok = { onConnection: () => null };
  assertThrows(
    () => new WebSocketServer(ok, { idleTimeout: -1 }),
    RangeError,
    "idleTimeout",
  );
  assertThrows(
    () => new WebSocketServer(ok, { idleTimeout: "30" as never }),
    TypeError,
    "idleTimeout",
  );
});

Deno.test("idleTimeout 0.2 s, real time: a peer that never answers Deno's ping gets the ping, then close 1001; onTerminate says 1001", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    idleTimeout: 0.2,
  });
  const peer = await rawPeer(server.port);
  await recorder.opened();
  const frames = await readFramesUntil(
    peer.conn,
    (got) => got.some((frame) => frame.opcode === CLOSE),
    "the close frame",
    2000,
  );
  // A ping first (the pong it asked for never came), then the close.
  assertEquals(frames.map((frame) => frame.opcode), [PING, CLOSE]);
  const close = frames[1];
  assertExists(close);
  assertEquals(closeOf(close)[0], 1001);
  await recorder.terminated(2000);
  assertEquals(recorder.types, ["open", "terminate"]);
  assertEquals(recorder.calls[1]?.event.code, 1001);
  await peer.readToEnd(2000).catch(() => {});
  peer.conn.close();
});

Deno.test("idleTimeout 0.2 s, real time: a peer that answers each ping stays open through three rounds", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    idleTimeout: 0.2,
  });
  const peer = await rawPeer(server.port);
  await recorder.opened();
  const seen: number[] = [];
  await deadline(
    (async () => {
      const buffer = new Uint8Array(4096);
      let bytes: Uint8Array = new Uint8Array(0);
      while (seen.filter((opcode) => opcode === PING).length < 3) {
        const n = await peer.conn.read(buffer);
        if (n === null) throw new Error("the server ended TCP");
        bytes = concat([bytes, buffer.subarray(0, n)]);
        const { frames, rest } = decodeFrames(bytes);
        bytes = bytes.slice(rest);
        for (const frame of frames) {
          seen.push(frame.opcode);
          if (frame.opcode === PING) {
            await peer.conn.write(buildFrame(PONG, frame.payload));
          }
        }
      }
    })(),
    3000,
  );
  // Three pings, each answered: no close in between, the connection lives.
  assertEquals(seen, [PING, PING, PING]);
  assertEquals(recorder.types, ["open"]);
  assertEquals(recorder.connection?.status, "Connected");
  await peer.conn.write(buildFrame(CLOSE, new Uint8Array([0x03, 0xe8])));
  await recorder.terminated();
  assertEquals(recorder.calls.at(-1)?.event.code, 1000);
  await peer.readToEnd().catch(() => {});
  peer.conn.close();
});

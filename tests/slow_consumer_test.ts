/**
 * Backpressure: a peer that does not read is closed as a slow consumer once
 * its outgoing buffer passes `maxBufferedAmount`, without slowing the others;
 * a peer that never answers our close is given up after `closeTimeout`, on
 * a fake clock that says the millisecond.
 *
 * @module
 */
import { assert, assertEquals, assertExists } from "@std/assert";
import { ErrorCode } from "../mod.ts";
import { closeFrameOf, FakeClock } from "./_fake_clock.ts";
import { connect, hangUp, listen, Recorder } from "./_helpers.ts";
import {
  buildFrame,
  closeOf,
  rawPeer,
  readFramesUntil,
} from "../testkit/raw_peer.ts";

const CHUNK = 128 * 1024;
const MAX_ROUNDS = 2000;

Deno.test("maxBufferedAmount: a peer that does not read gets 1008 slow consumer; a reader gets every message", async () => {
  const slow = new Recorder();
  let rounds = 0;
  const reader = new Recorder({
    onMessage(ws) {
      // The reader paces the broadcast: one more each time it has read one.
      if (rounds < MAX_ROUNDS && !slow.types.includes("error")) {
        rounds++;
        ws.wss.broadcast(`${rounds} `.padEnd(CHUNK, "x"));
      } else ws.send("done");
    },
  });
  await using server = listen({
    onConnection: (_, { request }) => request.url === "/reader" ? reader : slow,
  }, { maxBufferedAmount: 1024 * 1024 });
  const peer = await rawPeer(server.port, "/slow");
  await slow.opened();
  const client = await connect(`${server.url}/reader`);
  const received: string[] = [];
  const done = Promise.withResolvers<void>();
  client.socket.onmessage = (event) => {
    if (event.data === "done") done.resolve();
    else {
      received.push(String(event.data).split(" ", 1)[0] ?? "");
      client.socket.send("next");
    }
  };
  client.socket.send("next");
  await slow.when((c) => c.name === "onError", "the slow consumer's onError");
  await done.promise;
  // The slow peer reads at last: what it was sent, then the close frame.
  const frames = await readFramesUntil(
    peer.conn,
    (got) => got.some((frame) => frame.opcode === 8),
    "the close frame",
  );
  const close = frames.find((frame) => frame.opcode === 8);
  assertExists(close);
  assertEquals(closeOf(close), [1008, "slow consumer"]);
  await peer.conn.write(buildFrame(8, close.payload));
  await peer.readToEnd();
  peer.conn.close();
  await slow.terminated();
  const error = slow.calls.find((c) => c.name === "onError")?.event;
  assertEquals(error?.errors?.map((e) => e.errCode), [
    ErrorCode.SlowConsumer,
  ]);
  const end = slow.calls.at(-1)?.event;
  assertEquals([end?.code, end?.reason], [1008, "slow consumer"]);
  assert(rounds < MAX_ROUNDS, `slow consumer detected after ${rounds}`);
  // The reader was not slowed down nor lost anything: every round, in order.
  assertEquals(
    received,
    Array.from({ length: rounds }, (_, i) => `${i + 1}`),
  );
  await hangUp(client);
});

Deno.test("closeTimeout on a fake clock: a peer that never answers our close is given up at 5 s, not at 4.999 s, with the code sent", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    closeTimeout: 5,
  });
  const peer = await rawPeer(server.port);
  await recorder.opened();
  const ws = recorder.connection;
  assertExists(ws);
  {
    using time = new FakeClock();
    ws.terminate(4000, "bye");
    assertEquals(ws.status, "Closing");
    // The close frame goes out a task later; the raw peer reads it and
    // answers nothing: Deno would wait forever.
    assertEquals(await closeFrameOf(peer, time), [4000, "bye"]);
    await time.advance(4999);
    assertEquals(recorder.types, ["open"]);
    assertEquals(ws.status, "Closing");
    await time.advance(1);
    assertEquals(recorder.types, ["open", "terminate"]);
    const end = recorder.calls[1]?.event;
    assertEquals([end?.code, end?.reason], [4000, "bye"]);
    assertEquals(ws.status, "Closed");
    assertEquals(server.wss.connections.length, 0);
  }
  // Shutting the listener down cuts the socket that Deno still holds.
  await server.wss.terminate();
  await peer.readToEnd();
  peer.conn.close();
});

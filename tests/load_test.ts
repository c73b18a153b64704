/**
 * No loss under load: many clients, sequenced messages, every one checked to
 * arrive exactly once and in order, through an echo, through the chat's
 * fan-out, and across `terminate()` (on a fake clock, which says when the
 * silent peers are cut). Bounded in count and time.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { ChatHandler } from "../examples/chat/chat.ts";
import type { WebSocketConnection } from "../mod.ts";
import { FakeClock, within } from "./_fake_clock.ts";
import { deadline } from "@std/async/deadline";
import { listen, Recorder } from "./_helpers.ts";
import { rawPeer } from "../testkit/raw_peer.ts";

const CLIENTS = 500;
const MESSAGES = 200;
/** Opening sockets in batches keeps the listen backlog from overflowing. */
const OPEN_BATCH = 100;

/** A client that checks the sequence of each sender it hears from. */
class Checker {
  readonly socket: WebSocket;
  /** The next sequence number expected from each sender. */
  readonly next = new Map<string, number>();
  checked = 0;
  readonly faults: string[] = [];
  readonly closed: Promise<CloseEvent>;
  #goal = Infinity;
  #reached = Promise.withResolvers<void>();

  constructor(url: string, readonly name: string) {
    this.socket = new WebSocket(url);
    this.socket.onmessage = (event) => this.#receive(String(event.data));
    this.closed = new Promise((resolve) => {
      this.socket.addEventListener("close", resolve);
    });
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.onopen = () => resolve();
      this.socket.onerror = () => reject(new Error(`${this.name}: no open`));
    });
  }

  /** Resolves once `count` sequenced messages have been checked. */
  reach(count: number): Promise<void> {
    this.#goal = count;
    if (this.checked >= count) this.#reached.resolve();
    return this.#reached.promise;
  }

  sendSequence(count: number): void {
    for (let i = 0; i < count; i++) this.socket.send(`${this.name}:${i}`);
  }

  #receive(data: string): void {
    const colon = data.indexOf(":");
    if (colon < 0) return; // The chat's own news: not sequenced.
    const sender = data.slice(0, colon);
    const seq = Number(data.slice(colon + 1));
    const expected = this.next.get(sender) ?? 0;
    if (seq !== expected) {
      this.faults.push(`${this.name} got ${data}, expected ${expected}`);
    }
    this.next.set(sender, seq + 1);
    if (++this.checked >= this.#goal) this.#reached.resolve();
  }
}

/** Opens `count` checkers on `url`, `OPEN_BATCH` at a time. */
async function openCheckers(url: string, count: number): Promise<Checker[]> {
  const checkers: Checker[] = [];
  for (let first = 0; first < count; first += OPEN_BATCH) {
    const batch: Checker[] = [];
    for (let i = first; i < Math.min(count, first + OPEN_BATCH); i++) {
      batch.push(new Checker(url, `c${i}`));
    }
    await deadline(
      Promise.all(batch.map((c) => c.opened())),
      10_000,
    );
    checkers.push(...batch);
  }
  return checkers;
}

/** Resolves once `count()` has been called `total` times. */
class Countdown {
  readonly #done = Promise.withResolvers<void>();
  #left: number;

  constructor(total: number) {
    this.#left = total;
  }

  count = (): void => {
    if (--this.#left === 0) this.#done.resolve();
  };

  get done(): Promise<void> {
    return this.#done.promise;
  }
}

/**
 * Closes every checker and waits for both ends: each client's close event
 * and each server session's `onTerminate` (`ended`), which comes after
 * Deno's close op on the server, so that no close op is still running when
 * the test ends.
 */
async function closeAll(checkers: Checker[], ended: Countdown): Promise<void> {
  for (const checker of checkers) checker.socket.close();
  await deadline(
    Promise.all([...checkers.map((c) => c.closed), ended.done]),
    10_000,
  );
}

Deno.test(`No loss: ${CLIENTS} clients × ${MESSAGES} sequenced messages through an echo`, async () => {
  const ended = new Countdown(CLIENTS);
  await using server = listen({
    onConnection: () => ({
      onMessage: (ws: WebSocketConnection, event: { data: unknown }) =>
        ws.send(event.data),
      onTerminate: ended.count,
    }),
  });
  const checkers = await openCheckers(server.url, CLIENTS);
  assertEquals(server.wss.connections.length, CLIENTS);
  for (const checker of checkers) checker.sendSequence(MESSAGES);
  await deadline(
    Promise.all(checkers.map((c) => c.reach(MESSAGES))),
    30_000,
  );
  const checked = checkers.reduce((sum, c) => sum + c.checked, 0);
  assertEquals(checkers.flatMap((c) => c.faults), []);
  assertEquals(checked, CLIENTS * MESSAGES);
  // Each client heard exactly its own sequence, whole.
  for (const checker of checkers) {
    assertEquals([...checker.next], [[checker.name, MESSAGES]]);
  }
  // deno-lint-ignore no-console
  console.log(`  echo: ${checked} messages checked, 0 lost, 0 out of order`);
  await closeAll(checkers, ended);
});

/** Senders in the fan-out test: each message reaches the 499 others. */
const SENDERS = 10;

Deno.test(`No loss: the chat's fan-out to ${CLIENTS} clients, ${SENDERS} senders × ${MESSAGES} messages`, async () => {
  const ended = new Countdown(CLIENTS);
  class CountedChat extends ChatHandler {
    override onTerminate(ws: WebSocketConnection): void {
      super.onTerminate(ws);
      ended.count();
    }
  }
  await using server = listen({ onConnection: () => new CountedChat() });
  const checkers = await openCheckers(server.url, CLIENTS);
  const senders = checkers.slice(0, SENDERS);
  for (const sender of senders) sender.sendSequence(MESSAGES);
  // A sender hears the others; a listener hears every sender.
  const goal = (i: number) => (i < SENDERS ? SENDERS - 1 : SENDERS) * MESSAGES;
  await deadline(
    Promise.all(checkers.map((c, i) => c.reach(goal(i)))),
    60_000,
  ).catch((error) => {
    // Say what was missing, so that a failure can be told from a slow run.
    const short = checkers.filter((c, i) => c.checked < goal(i));
    throw new Error(
      `${error.message}: ${short.length} clients short, the furthest behind at ${
        Math.min(...short.map((c) => c.checked))
      } of ${goal(SENDERS)}; faults: ${
        checkers.flatMap((c) => c.faults).slice(0, 5).join("; ") || "none"
      }; open sockets: ${
        checkers.filter((c) => c.socket.readyState === WebSocket.OPEN).length
      }`,
    );
  });
  assertEquals(checkers.flatMap((c) => c.faults), []);
  const checked = checkers.reduce((sum, c) => sum + c.checked, 0);
  assertEquals(checked, SENDERS * MESSAGES * (CLIENTS - 1));
  for (const [i, checker] of checkers.entries()) {
    for (const sender of senders) {
      if (sender === checker) continue;
      assertEquals(checker.next.get(sender.name), MESSAGES, `${i}`);
    }
    assertEquals(checker.next.has(checker.name), false, "no echo to self");
  }
  // deno-lint-ignore no-console
  console.log(`  fan-out: ${checked} deliveries checked, 0 lost`);
  await closeAll(checkers, ended);
});

Deno.test("No loss: terminate(0.5) under load, on a fake clock: the readers get what was sent first, then 1001; the silent peers are cut at 500 ms, not at 499", async () => {
  const silent: Recorder[] = [];
  await using server = listen({
    onConnection: (_, { request }) => {
      if (request.url !== "/silent") return { onMessage() {} };
      const recorder = new Recorder();
      silent.push(recorder);
      return recorder;
    },
  });
  const { wss } = server;
  const readers = await openCheckers(server.url, 100);
  const peers = await Promise.all(
    Array.from({ length: 5 }, () => rawPeer(server.port, "/silent")),
  );
  await deadline(
    Promise.all(silent.map((r) => r.opened())),
    5000,
  );
  using time = new FakeClock();
  // Queue 200 messages on each reader, then terminate at once.
  let id = 0;
  for (const connection of wss.connections) {
    if (silent.some((r) => r.connection === connection)) continue;
    const name = `s${id++}`;
    for (let i = 0; i < MESSAGES; i++) connection.send(`${name}:${i}`);
  }
  const codes = readers.map((c) => c.closed.then((event) => event.code));
  const done = wss.terminate(0.5);
  // The closes go out a task later; the readers answer theirs at once.
  await time.advance(0);
  const closed = await within(
    Promise.all(codes),
    "every reader's close",
    10_000,
  );
  // Every reader got all 200 messages, in order, then the 1001 close.
  assertEquals(readers.flatMap((c) => c.faults), []);
  assertEquals(readers.map((c) => c.checked), readers.map(() => MESSAGES));
  assertEquals(closed, readers.map(() => 1001));
  // The silent peers wait for the timeout, and are cut at it.
  await time.advance(499);
  assertEquals(silent.map((r) => r.types), silent.map(() => ["open"]));
  await time.advance(1);
  for (const recorder of silent) {
    assertEquals(recorder.types, ["open", "terminate"]);
    assertEquals(recorder.calls[1]?.event.code, 1006);
  }
  await within(done, "terminate(0.5)");
  for (const peer of peers) {
    await peer.readToEnd();
    peer.conn.close();
  }
});

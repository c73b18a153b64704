/**
 * The end of a resumable session while its client is away (SPEC.md,
 * "Resuming": "If `window` passes, or the kept messages pass
 * `maxMessages`/`maxBytes`, the connection ends: `onTerminate` with 1006"),
 * and the `wss.stats` fields that count it: `sessionsWaiting`,
 * `sessionsResumed`, `sessionsExpired`. A ws4d client with `reconnect` and a
 * ws4d server with `resume`, through the relay of tests/_relay.ts, which
 * cuts the TCP under them and refuses the client's reconnects meanwhile.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  WebSocket,
  type WebSocketConnection,
  type WebSocketServer,
  type WebSocketServerOptions,
  type WSClientOpenEvent,
} from "../mod.ts";
import {
  type Call,
  ClientRecorder,
  deadline,
  listen,
  type Listening,
  Recorder,
} from "./_helpers.ts";
import { Relay } from "./_relay.ts";

/** Tries every 20 ms while the relay refuses: few tries, and a quick one after `admit()`. */
const RECONNECT = { delay: 0.02, factor: 1, jitter: 0 } as const;

/**
 * Resolves once the server counts `count` sessions waiting for their client.
 * The break is invisible on the server by design (no callback, the
 * connection stays `"Connected"`), so `wss.stats.sessionsWaiting` is the only
 * thing that tells when the server has seen it: this reads it once per turn
 * of a loop of short timers, bounded in turns and by `deadline`.
 */
async function waiting(
  wss: WebSocketServer,
  count: number,
  ms = 5000,
): Promise<void> {
  const turns = ms / 10;
  const loop = async () => {
    for (let turn = 0; turn < turns; turn++) {
      if (wss.stats.sessionsWaiting === count) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`sessionsWaiting never reached ${count}`);
  };
  await deadline(loop(), `sessionsWaiting === ${count}`, ms + 1000);
}

function isReopen(call: Call): boolean {
  return call.name === "onOpen" &&
    (call.event as unknown as WSClientOpenEvent).reconnected;
}

/** The client's `onOpen` events, in order. */
function opens(client: ClientRecorder): WSClientOpenEvent[] {
  return client.calls.filter((c) => c.name === "onOpen").map((c) =>
    c.event as unknown as WSClientOpenEvent
  );
}

/** A server with `resume`, a relay to it, a client through the relay. */
interface Setup extends AsyncDisposable {
  readonly listening: Listening;
  readonly relay: Relay;
  readonly client: ClientRecorder;
  readonly ws: WebSocket;
  /** A recorder per connection the server accepted, in order. */
  readonly sessions: Recorder[];
  /** Errors the server's own `onError` received. */
  readonly serverErrors: unknown[];
  /** The first session's connection. */
  readonly connection: WebSocketConnection;
}

async function setUp(resume: WebSocketServerOptions["resume"]): Promise<Setup> {
  const sessions: Recorder[] = [];
  const serverErrors: unknown[] = [];
  const listening = listen({
    onConnection: () => {
      const recorder = new Recorder({});
      sessions.push(recorder);
      return recorder;
    },
    onError: (_wss, event) => void serverErrors.push(event),
  }, { resume });
  const relay = new Relay({ hostname: "127.0.0.1", port: listening.port });
  const client = new ClientRecorder({ reconnect: RECONNECT });
  const ws = new WebSocket(relay.url("/"), client);
  await client.opened();
  const first = sessions[0] as Recorder;
  await first.opened();
  return {
    listening,
    relay,
    client,
    ws,
    sessions,
    serverErrors,
    connection: first.connection as WebSocketConnection,
    async [Symbol.asyncDispose]() {
      ws.terminate();
      await client.terminated();
      await relay.close();
      await listening.wss.terminate();
    },
  };
}

/**
 * Breaks the connection with the client kept away (the relay refuses its
 * reconnects), and waits until the server has seen the break.
 */
async function breakAndWait(setup: Setup): Promise<void> {
  assert.equal(setup.listening.wss.stats.sessionsWaiting, 0);
  setup.relay.refuse();
  setup.relay.cut();
  await waiting(setup.listening.wss, 1);
}

/**
 * After the first session expired: the relay admits again, and the client
 * gets a fresh session (`resumed: false`) on a second connection.
 */
async function expectFreshSession(setup: Setup): Promise<void> {
  setup.relay.admit();
  await setup.client.when(isReopen, "the second onOpen");
  assert.deepEqual(opens(setup.client), [
    { type: "open", reconnected: false, resumed: false },
    { type: "open", reconnected: true, resumed: false },
  ]);
  assert.equal(setup.sessions.length, 2);
  await (setup.sessions[1] as Recorder).opened();
  assert.equal(setup.listening.wss.stats.sessionsResumed, 0);
}

Deno.test("resume: past maxMessages during a break, the server ends 1006 and counts sessionsExpired.limits", async () => {
  await using setup = await setUp({ window: 30, maxMessages: 5 });
  const { listening, connection } = setup;
  const first = setup.sessions[0] as Recorder;
  await breakAndWait(setup);

  // maxMessages may be kept; the end, if any, would come a microtask later.
  for (let n = 0; n < 5; n++) assert.equal(connection.send(`kept:${n}`), true);
  await Promise.resolve();
  assert.equal(listening.wss.stats.sessionsWaiting, 1);
  assert.deepEqual(first.types, ["open"]);

  assert.equal(connection.send("one too many"), true);
  const end = await first.terminated();
  assert.equal(end.code, 1006);
  assert.deepEqual(first.types, ["open", "terminate"]); // no onError
  const stats = listening.wss.stats;
  assert.deepEqual(stats.sessionsExpired, { window: 0, limits: 1 });
  assert.equal(stats.sessionsWaiting, 0);
  assert.deepEqual(stats.closes, { "1006": 1 });
  assert.deepEqual(stats.errors, {});
  assert.deepEqual(setup.serverErrors, []);

  await expectFreshSession(setup);
});

Deno.test("resume: past maxBytes during a break, the server ends 1006 and counts sessionsExpired.limits", async () => {
  await using setup = await setUp({ window: 30, maxBytes: 100 });
  const { listening, connection } = setup;
  const first = setup.sessions[0] as Recorder;
  await breakAndWait(setup);

  // One message may pass maxBytes alone; a second past it ends the session.
  assert.equal(connection.send("x".repeat(60)), true);
  await Promise.resolve();
  assert.equal(listening.wss.stats.sessionsWaiting, 1);
  assert.equal(connection.send("y".repeat(60)), true);
  const end = await first.terminated();
  assert.equal(end.code, 1006);
  assert.deepEqual(first.types, ["open", "terminate"]);
  const stats = listening.wss.stats;
  assert.deepEqual(stats.sessionsExpired, { window: 0, limits: 1 });
  assert.equal(stats.sessionsWaiting, 0);
  assert.deepEqual(stats.errors, {});
  assert.deepEqual(setup.serverErrors, []);

  await expectFreshSession(setup);
});

Deno.test("resume: past the window, the server ends 1006 and counts sessionsExpired.window", async () => {
  await using setup = await setUp({ window: 0.2 });
  const { listening } = setup;
  const first = setup.sessions[0] as Recorder;
  await breakAndWait(setup);
  assert.deepEqual(first.types, ["open"]);

  const end = await first.terminated();
  assert.equal(end.code, 1006);
  const stats = listening.wss.stats;
  assert.deepEqual(stats.sessionsExpired, { window: 1, limits: 0 });
  assert.equal(stats.sessionsWaiting, 0);
  assert.deepEqual(stats.errors, {});
  assert.deepEqual(setup.serverErrors, []);

  await expectFreshSession(setup);
});

Deno.test("resume: a resumed break counts sessionsResumed, and sessionsWaiting goes 1 then 0", async () => {
  await using setup = await setUp({ window: 30 });
  const { listening, connection, client } = setup;
  await breakAndWait(setup);
  assert.equal(connection.send("meanwhile"), true);

  setup.relay.admit();
  await client.when(isReopen, "the second onOpen");
  assert.deepEqual(opens(client)[1], {
    type: "open",
    reconnected: true,
    resumed: true,
  });
  await client.received(1);
  assert.deepEqual(client.messages, ["meanwhile"]);
  const stats = listening.wss.stats;
  assert.equal(stats.sessionsWaiting, 0);
  assert.equal(stats.sessionsResumed, 1);
  assert.deepEqual(stats.sessionsExpired, { window: 0, limits: 0 });
  assert.equal(stats.connections, 1);
  assert.deepEqual((setup.sessions[0] as Recorder).types, ["open"]);
});

Deno.test("resume: a waiting session ended by terminate() leaves sessionsWaiting and counts no expiry", async () => {
  await using setup = await setUp({ window: 30 });
  const { listening, connection } = setup;
  const first = setup.sessions[0] as Recorder;
  await breakAndWait(setup);

  connection.terminate(4000, "bye");
  const end = await first.terminated();
  assert.equal(end.code, 4000);
  const stats = listening.wss.stats;
  assert.equal(stats.sessionsWaiting, 0);
  assert.deepEqual(stats.sessionsExpired, { window: 0, limits: 0 });
  assert.equal(stats.sessionsResumed, 0);

  await expectFreshSession(setup);
});

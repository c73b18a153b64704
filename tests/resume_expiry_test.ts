/**
 * The end of a resumable session while its client is away (SPEC.md,
 * "Resuming": "If `window` passes, or the kept messages pass
 * `maxMessages`/`maxBytes`, the connection ends: `onTerminate` with 1006"),
 * and the `wss.stats` fields that count it: `sessionsWaiting`,
 * `sessionsResumed`, `sessionsExpired`. A ws4d client with `reconnect` and a
 * ws4d server with `resume`, through the relay of testkit/relay.ts, which
 * cuts the TCP under them and refuses the client's reconnects meanwhile.
 * The server's sight of a break is waited on as the `close` event of the
 * socket it upgraded; the window runs on a fake clock, to the millisecond.
 *
 * @module
 */
import { assertEquals, assertExists, assertMatch } from "@std/assert";
import { assertSpyCalls, type Spy, spy } from "@std/testing/mock";
import {
  WebSocket,
  type WebSocketConnection,
  type WebSocketServer,
  type WebSocketServerOptions,
  type WSServerErrorEvent,
} from "../mod.ts";
import {
  type Call,
  ClientRecorder,
  listen,
  type Listening,
  Recorder,
} from "./_helpers.ts";
import {
  FakeClock,
  noteUpgrades,
  type Upgrade,
  within,
} from "./_fake_clock.ts";
import { Relay } from "../testkit/relay.ts";

/** Tries every 20 ms while the relay refuses: few tries, and a quick one after `admit()`. */
const RECONNECT = { delay: 0.02, factor: 1, jitter: 0 } as const;

/** The recorder of the `i`th connection the server accepted. */
function session(setup: Setup, i: number): Recorder {
  const recorder = setup.sessions[i];
  assertExists(recorder, `session ${i}`);
  return recorder;
}

/** A server with `resume`, a relay to it, a client through the relay. */
interface Setup extends AsyncDisposable {
  readonly listening: Listening;
  readonly relay: Relay;
  readonly client: ClientRecorder;
  readonly ws: WebSocket;
  /** A recorder per connection the server accepted, in order. */
  readonly sessions: Recorder[];
  /** The server's own `onError`, spied. */
  readonly onError: Spy<unknown, [WebSocketServer, WSServerErrorEvent], void>;
  /** The first session's connection. */
  readonly connection: WebSocketConnection;
  /** What the server upgraded, in order. */
  readonly upgrades: Upgrade[];
}

async function setUp(resume: WebSocketServerOptions["resume"]): Promise<Setup> {
  const sessions: Recorder[] = [];
  const upgrades: Upgrade[] = [];
  const upgrading = noteUpgrades(upgrades);
  const onError = spy(
    (_wss: WebSocketServer, _event: WSServerErrorEvent) => {},
  );
  const listening = listen({
    onConnection: () => {
      const recorder = new Recorder({});
      sessions.push(recorder);
      return recorder;
    },
    onError,
  }, { resume });
  const relay = new Relay({ hostname: "127.0.0.1", port: listening.port });
  const client = new ClientRecorder({ reconnect: RECONNECT });
  const ws = new WebSocket(relay.url("/"), client);
  await client.opened();
  const first = sessions[0];
  assertExists(first);
  await first.opened();
  const connection = first.connection;
  assertExists(connection);
  return {
    listening,
    relay,
    client,
    ws,
    sessions,
    onError,
    connection,
    upgrades,
    async [Symbol.asyncDispose]() {
      ws.terminate();
      await client.terminated();
      await relay.close();
      await listening.wss.terminate();
      upgrading[Symbol.dispose]();
    },
  };
}

/**
 * Breaks the connection with the client kept away (the relay refuses its
 * reconnects), and waits until the server has seen the break: the `close`
 * event of the server's socket (ws4d's own handler runs first in it). The
 * break is invisible through ws4d's API by design (no callback, the
 * connection stays `"Connected"`), so the socket that Deno upgraded is
 * where it shows.
 */
async function breakAndWait(setup: Setup): Promise<void> {
  const { wss } = setup.listening;
  assertEquals(wss.stats.sessionsWaiting, 0);
  const socket = setup.upgrades[0]?.socket;
  assertExists(socket);
  const closed = new Promise((resolve) =>
    socket.addEventListener("close", resolve, { once: true })
  );
  setup.relay.refuse();
  setup.relay.cut();
  await within(closed, "the server's socket to see the break");
  assertEquals(wss.stats.sessionsWaiting, 1);
}

/**
 * After the first session expired: the relay admits again, and the client
 * gets a fresh session (`resumed: false`) on a second connection.
 */
async function expectFreshSession(setup: Setup): Promise<void> {
  setup.relay.admit();
  await setup.client.nthOpen(2);
  assertEquals(setup.client.opens, [
    { type: "open", reconnected: false, resumed: false },
    { type: "open", reconnected: true, resumed: false },
  ]);
  assertEquals(setup.sessions.length, 2);
  await session(setup, 1).opened();
  assertEquals(setup.listening.wss.stats.sessionsResumed, 0);
}

Deno.test("resume: past maxMessages during a break, the server ends 1006 and counts sessionsExpired.limits", async () => {
  await using setup = await setUp({ window: 30, maxMessages: 5 });
  const { listening, connection } = setup;
  const first = session(setup, 0);
  await breakAndWait(setup);

  // maxMessages may be kept; the end, if any, would come a microtask later.
  for (let n = 0; n < 5; n++) assertEquals(connection.send(`kept:${n}`), true);
  await Promise.resolve();
  assertEquals(listening.wss.stats.sessionsWaiting, 1);
  assertEquals(first.types, ["open"]);

  assertEquals(connection.send("one too many"), true);
  const end = await first.terminated();
  assertEquals(end.code, 1006);
  assertEquals(first.types, ["open", "terminate"]); // no onError
  const stats = listening.wss.stats;
  assertEquals(stats.sessionsExpired, { window: 0, limits: 1 });
  assertEquals(stats.sessionsWaiting, 0);
  assertEquals(stats.closes, { "1006": 1 });
  assertEquals(stats.errors, {});
  assertSpyCalls(setup.onError, 0);

  await expectFreshSession(setup);
});

Deno.test("resume: past maxBytes during a break, the server ends 1006 and counts sessionsExpired.limits", async () => {
  await using setup = await setUp({ window: 30, maxBytes: 100 });
  const { listening, connection } = setup;
  const first = session(setup, 0);
  await breakAndWait(setup);

  // One message may pass maxBytes alone; a second past it ends the session.
  assertEquals(connection.send("x".repeat(60)), true);
  await Promise.resolve();
  assertEquals(listening.wss.stats.sessionsWaiting, 1);
  assertEquals(connection.send("y".repeat(60)), true);
  const end = await first.terminated();
  assertEquals(end.code, 1006);
  assertEquals(first.types, ["open", "terminate"]);
  const stats = listening.wss.stats;
  assertEquals(stats.sessionsExpired, { window: 0, limits: 1 });
  assertEquals(stats.sessionsWaiting, 0);
  assertEquals(stats.errors, {});
  assertSpyCalls(setup.onError, 0);

  await expectFreshSession(setup);
});

/** The client's `onReconnecting` for retry `attempt`. */
function isRetry(attempt: number): (call: Call) => boolean {
  return (call) =>
    call.name === "onReconnecting" && "attempt" in call.event &&
    call.event.attempt === attempt;
}

Deno.test("resume on a fake clock: a broken session waits its window (30 s), not 29.999 s, then ends 1006 and counts sessionsExpired.window; the client, past the window, offers no token", async () => {
  await using setup = await setUp({ window: 30 });
  const { listening, client } = setup;
  const first = session(setup, 0);
  // The window's timer (setTimeout) and the client's (performance.now)
  // start on the fake clock, at the break.
  using time = new FakeClock();
  await breakAndWait(setup);
  await client.when(isRetry(1), "the client's retry 1");

  await time.advance(29_999);
  assertEquals(first.types, ["open"]);
  assertEquals(listening.wss.stats.sessionsWaiting, 1);
  await time.advance(1);
  assertEquals(first.types, ["open", "terminate"]);
  assertEquals(first.calls[1]?.event.code, 1006);
  const stats = listening.wss.stats;
  assertEquals(stats.sessionsExpired, { window: 1, limits: 0 });
  assertEquals(stats.sessionsWaiting, 0);
  assertEquals(stats.errors, {});
  assertSpyCalls(setup.onError, 0);

  // The client's retry at 20 ms was refused; the next one waits 20 ms more.
  await client.when(isRetry(2), "the client's retry 2");
  setup.relay.admit();
  await time.advance(20);
  await expectFreshSession(setup);
  // Past the window the client no longer offers its token: a fresh offer,
  // in the query.
  const second = setup.upgrades[1];
  assertExists(second);
  assertEquals(second.protocols, null);
  assertMatch(second.url, /[?&]ws4d-resume=1/);
});

Deno.test("resume: a resumed break counts sessionsResumed, and sessionsWaiting goes 1 then 0", async () => {
  await using setup = await setUp({ window: 30 });
  const { listening, connection, client } = setup;
  await breakAndWait(setup);
  assertEquals(connection.send("meanwhile"), true);

  setup.relay.admit();
  assertEquals(await client.nthOpen(2), {
    type: "open",
    reconnected: true,
    resumed: true,
  });
  await client.received(1);
  assertEquals(client.messages, ["meanwhile"]);
  // Within the window the client offered its token, in the subprotocols.
  assertMatch(setup.upgrades[1]?.protocols ?? "", /ws4d-resume\./);
  const stats = listening.wss.stats;
  assertEquals(stats.sessionsWaiting, 0);
  assertEquals(stats.sessionsResumed, 1);
  assertEquals(stats.sessionsExpired, { window: 0, limits: 0 });
  assertEquals(stats.connections, 1);
  assertEquals(session(setup, 0).types, ["open"]);
});

Deno.test("resume: a waiting session ended by terminate() leaves sessionsWaiting and counts no expiry", async () => {
  await using setup = await setUp({ window: 30 });
  const { listening, connection } = setup;
  const first = session(setup, 0);
  await breakAndWait(setup);

  connection.terminate(4000, "bye");
  const end = await first.terminated();
  assertEquals(end.code, 4000);
  const stats = listening.wss.stats;
  assertEquals(stats.sessionsWaiting, 0);
  assertEquals(stats.sessionsExpired, { window: 0, limits: 0 });
  assertEquals(stats.sessionsResumed, 0);

  await expectFreshSession(setup);
});

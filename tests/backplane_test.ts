/**
 * `broadcast` across instances through `BroadcastChannelBackplane`: two
 * servers of one worker, and two workers of one process, as `deno serve
 * --parallel` runs them. Every broadcast reaches every other client exactly
 * once, in order per sender, and never comes back to its own instance.
 *
 * @module
 */
import {
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
import { deadline } from "@std/async";
import { assertSpyCall, assertSpyCalls, spy } from "@std/testing/mock";
import {
  type Backplane,
  type BackplaneData,
  type BackplaneSink,
  BroadcastChannelBackplane,
  type WebSocketConnection,
  WebSocketServer,
  type WSServerErrorEvent,
} from "../mod.ts";
import {
  connect,
  exchange,
  hangUp,
  listen,
  type Listening,
} from "./_helpers.ts";

const MESSAGES = 50;

/** Relays every message to all the other clients, as the chat does. */
const relay = {
  onConnection: () => ({
    onMessage: (ws: WebSocketConnection, event: { data: unknown }) =>
      ws.wss.broadcast(event.data, { except: ws }),
  }),
};

/**
 * Two relaying servers in this process, each with a backplane on one new
 * BroadcastChannel; `await using` terminates both.
 */
function twoServers(): { a: Listening; b: Listening } & AsyncDisposable {
  const channel = `test-${crypto.randomUUID()}`;
  const a = listen(relay, {
    backplane: new BroadcastChannelBackplane(channel),
  });
  const b = listen(relay, {
    backplane: new BroadcastChannelBackplane(channel),
  });
  return {
    a,
    b,
    async [Symbol.asyncDispose]() {
      await Promise.all([a.wss.terminate(), b.wss.terminate()]);
    },
  };
}

Deno.test("BroadcastChannelBackplane: two servers on one channel reach each other's clients exactly once", async () => {
  await using servers = twoServers();
  const { a, b } = servers;
  const peers = [
    await connect(a.url),
    await connect(a.url),
    await connect(b.url),
    await connect(b.url),
  ];
  await exchange(peers, { tag: "p", count: MESSAGES });
  // `connections` stays local, as in 4D.
  assertEquals(a.wss.connections.length, 2);
  assertEquals(b.wss.connections.length, 2);
  // A broadcast from the server itself, in binary: everyone, once.
  assertEquals(a.wss.broadcast(new Uint8Array([1, 2, 3])), 2);
  await Promise.all(
    peers.map((peer) => peer.received(3 * MESSAGES + 1)),
  );
  for (const peer of peers) {
    assertEquals(
      new Uint8Array(peer.messages.at(-1) as ArrayBuffer),
      new Uint8Array([1, 2, 3]),
    );
  }
  for (const peer of peers) await hangUp(peer);
});

Deno.test("BroadcastChannelBackplane: a Blob keeps its place among the broadcasts", async () => {
  await using servers = twoServers();
  const { a, b } = servers;
  const peer = await connect(b.url);
  a.wss.broadcast("first");
  a.wss.broadcast(new Blob(["second"]));
  a.wss.broadcast("third");
  await peer.received(3);
  assertEquals(
    peer.messages.map((m) =>
      typeof m === "string" ? m : new TextDecoder().decode(m as ArrayBuffer)
    ),
    ["first", "second", "third"],
  );
  await hangUp(peer);
});

Deno.test("BroadcastChannelBackplane: bytes broadcast behind a Blob are sent as they were when broadcast", async () => {
  await using servers = twoServers();
  const { a, b } = servers;
  const peer = await connect(b.url);
  const bytes = new TextEncoder().encode("kept");
  a.wss.broadcast(new Blob(["blob"]));
  a.wss.broadcast(bytes);
  // The caller reuses its buffer at once: the waiting broadcast holds a copy.
  bytes.fill(0x21);
  await peer.received(2);
  assertEquals(
    peer.messages.map((m) => new TextDecoder().decode(m as ArrayBuffer)),
    ["blob", "kept"],
  );
  await hangUp(peer);
});

Deno.test("BroadcastChannelBackplane: two workers of one process, as deno serve --parallel", async () => {
  const channel = `test-${crypto.randomUUID()}`;
  const workers = [0, 1].map(() =>
    new Worker(new URL("./_backplane_worker.ts", import.meta.url), {
      type: "module",
    })
  );
  const ask = (worker: Worker, message: unknown) =>
    deadline(
      new Promise<unknown>((resolve) => {
        worker.onmessage = (event) => resolve(event.data);
        worker.postMessage(message);
      }),
      10_000,
    );
  try {
    const ports = await Promise.all(
      workers.map((worker) => ask(worker, { channel })),
    ) as number[];
    assertNotEquals(ports[0], ports[1]);
    const peers = [];
    for (const port of [...ports, ...ports]) {
      peers.push(await connect(`ws://127.0.0.1:${port}`));
    }
    await exchange(peers, { tag: "p", count: MESSAGES });
    for (const peer of peers) await hangUp(peer);
    await Promise.all(workers.map((worker) => ask(worker, "stop")));
  } finally {
    for (const worker of workers) worker.terminate();
  }
});

Deno.test("Backplane: a failure and a recovery reach the server's onError; a wrong backplane throws", async () => {
  let sink: BackplaneSink | undefined;
  const publish = spy((_data: BackplaneData) => {});
  const closed = Promise.withResolvers<void>();
  const fake: Backplane = {
    start: (given) => void (sink = given),
    publish,
    close: () => {
      closed.resolve();
      return Promise.resolve();
    },
  };
  const onError = spy(
    (_wss: WebSocketServer, _event: WSServerErrorEvent) => {},
  );
  await using wss = new WebSocketServer({
    onConnection: () => null,
    onError,
  }, { backplane: fake });
  wss.broadcast({ a: 1 });
  assertSpyCalls(publish, 1);
  assertSpyCall(publish, 0, { args: ['{"a":1}'] });
  sink?.failed(new Error("down"));
  sink?.recovered(3);
  // Reports go through the server's callback queue, which is idle here.
  const reports = onError.calls.map((call) => call.args[1]);
  assertEquals(
    reports.map((report) => report.statusText),
    ["backplane failed", "backplane recovered"],
  );
  assertMatch(
    reports[1]?.errors[0]?.message ?? "",
    /3 broadcast\(s\) did not reach/,
  );
  await wss.terminate();
  await deadline(closed.promise, 5000);
  assertThrows(
    () => new WebSocketServer(relay, { backplane: {} as Backplane }),
    TypeError,
    "options.backplane must be a Backplane",
  );
  assertThrows(() => new BroadcastChannelBackplane(""), TypeError);
});

Deno.test("a backplane's optional members are checked at construction: a function (a string for instance) where present, each named", async () => {
  const base: Backplane = {
    start() {},
    publish() {},
    close: () => Promise.resolve(),
  };
  // The member, a wrong value, what it must be, the value as described.
  const wrong = [
    ["publishTopic", 1, "a function", "1"],
    ["subscribe", "yes", "a function", '"yes"'],
    ["unsubscribe", null, "a function", "null"],
    ["sendTo", true, "a function", "true"],
    ["alive", 1, "a function", "1"],
    ["instances", [], "a function", "an array"],
    ["heard", {}, "a function", "an object"],
    ["instance", 7, "a string", "7"],
  ] as const;
  for (const [member, value, what, described] of wrong) {
    const backplane = { ...base, [member]: value } as unknown as Backplane;
    const error = assertThrows(
      () => new WebSocketServer(relay, { backplane }),
      TypeError,
    );
    assertEquals(
      error.message,
      `Cannot create WebSocketServer: options.backplane must be a Backplane, and options.backplane.${member} ${what} where present, current value is ${described}`,
    );
  }
  // Each member well formed, or each absent, is taken.
  const whole: Backplane = {
    ...base,
    instance: "SelfAAAA",
    sendTo: () => true,
    alive: () => true,
    instances: () => [],
    heard: () => Promise.resolve(),
    publishTopic() {},
    subscribe() {},
    unsubscribe() {},
  };
  for (const backplane of [whole, base]) {
    await using _wss = new WebSocketServer(relay, { backplane });
  }
});

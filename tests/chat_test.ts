/**
 * The chat example as a newcomer runs it: `deno task serve` (the launcher,
 * `deno serve --parallel`, the page and its script with their content types,
 * ETags and 304s, the relay across workers, SIGTERM), with `REDIS_URL`, two
 * chats in two processes sharing Redis, and `deno serve` without
 * `--allow-run` as on Deno Deploy.
 *
 * Every chat listens on port 0 and the test reads back the port it bound.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStrictEquals,
} from "@std/assert";
import { deadline } from "@std/async/deadline";
import { connect, exchange, hangUp, type Peer } from "./_helpers.ts";
import { Chat } from "./_chat_process.ts";
import { anyRedis, hasRedis } from "./_redis.ts";

/** What `deno serve` prints once it listens. */
const LISTENING = /Listening on http:\/\/127\.0\.0\.1:(\d+)\//;

/** The content types `serveFile` gives `.html` and `.js` files. */
const HTML = "text/html; charset=UTF-8";
const JAVASCRIPT = "text/javascript; charset=UTF-8";

/**
 * Checks that `url` is served as `@std/http`'s `serveFile` serves a file:
 * 200 with content type `type`, an ETag and a body matching `body`; 304 with
 * that ETag and no body to `If-None-Match` of it, asked 4 times on fresh
 * connections (under `deno serve --parallel`, the kernel spreads them over
 * the workers, which must agree); 200 to another ETag. Resolves with the body.
 */
async function assertServedAsFile(
  url: string,
  type: string,
  body: RegExp,
): Promise<string> {
  const first = await fetch(url);
  assertStrictEquals(first.status, 200);
  assertStrictEquals(first.headers.get("content-type"), type);
  const etag = first.headers.get("etag") ?? "";
  assertMatch(etag, /^(W\/)?"[^"]+"$/);
  const text = await first.text();
  assertMatch(text, body);
  const fresh = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    for (let i = 0; i < 4; i++) {
      const same = await fetch(url, {
        client: fresh,
        headers: { "if-none-match": etag },
      });
      assertStrictEquals(same.status, 304);
      assertStrictEquals(same.headers.get("etag"), etag);
      assertStrictEquals(await same.text(), "");
    }
  } finally {
    fresh.close();
  }
  const other = await fetch(url, { headers: { "if-none-match": '"other"' } });
  assertStrictEquals(other.status, 200);
  assertStrictEquals(await other.text(), text);
  return text;
}

Deno.test("deno task serve: PORT, the page, the chat, and SIGTERM closing clients with 1001", async () => {
  const chat = new Chat({ DENO_JOBS: "2" });
  try {
    await chat.listening();
    // Port 0 asked, a port bound, read back from the line.
    assertMatch(
      chat.printed,
      new RegExp(`Chat on http://localhost:${chat.port}/ \\(2 workers\\)`),
    );
    assert(chat.port > 0);
    const page = await fetch(chat.http("/"));
    assertStrictEquals(page.status, 200);
    assertMatch(await page.text(), /<title>ws4d chat<\/title>/);
    const stats = await fetch(chat.http("/stats"));
    assertStrictEquals(stats.headers.get("content-type"), "application/json");
    const counted: { connections: number; closes: Record<string, number> } =
      await stats.json();
    assertStrictEquals(counted.connections, 0);
    assertEquals(counted.closes, {});

    const alice = await connect(chat.url);
    await alice.received(1);
    const bob = await connect(chat.url);
    await bob.received(1);
    await alice.received(2);
    bob.socket.send("hi all");
    await alice.received(3);
    const closed = Promise.all([alice.closed, bob.closed]);
    const status = await chat.stop();
    const [aliceClose, bobClose] = await deadline(closed, 5000);
    assertStrictEquals(aliceClose.code, 1001);
    assertStrictEquals(bobClose.code, 1001);
    assertEquals(alice.messages, [
      "Welcome on the chat!",
      "New client connected",
      "hi all",
    ]);
    assertEquals(bob.messages, ["Welcome on the chat!"]);
    assertStrictEquals(status.code, 0);
  } finally {
    await chat.stop();
  }
});

Deno.test("deno task serve: the page and its bundled client come with their content types and ETags, and 304 to If-None-Match", async () => {
  const chat = new Chat({ DENO_JOBS: "2" });
  try {
    await chat.listening();
    await assertServedAsFile(chat.http("/"), HTML, /<title>ws4d chat<\/title>/);
    await assertServedAsFile(
      chat.http("/index.html"),
      HTML,
      /<title>ws4d chat<\/title>/,
    );
    // ws4d's client, bundled (not the stand-in): it reconnects and resumes.
    const script = await assertServedAsFile(
      chat.http("/client.js"),
      JAVASCRIPT,
      /WebSocketClient/,
    );
    assertMatch(script, /reconnect/);
    assertStrictEquals(script.includes("without reconnecting"), false);
  } finally {
    await chat.stop();
  }
});

/** Opens `count` chat clients, each past its welcome and the news of later ones. */
async function join(urls: string[]): Promise<Peer[]> {
  const peers: Peer[] = [];
  for (const url of urls) {
    const peer = await connect(url);
    await peer.received(1);
    peers.push(peer);
  }
  // Each hears of every later arrival, across workers and processes.
  await Promise.all(
    peers.map((peer, i) => peer.received(1 + urls.length - 1 - i)),
  );
  return peers;
}

Deno.test("deno task serve: with 2 workers, a message reaches every other client exactly once", async () => {
  const chat = new Chat({ DENO_JOBS: "2" });
  let peers: Peer[] = [];
  try {
    await chat.listening();
    // The kernel spreads 12 connections over both workers' listeners.
    peers = await join(Array.from({ length: 12 }, () => chat.url));
    await exchange(peers, { tag: "m", count: 20 });
  } finally {
    for (const peer of peers) await hangUp(peer).catch(() => {});
    await chat.stop();
  }
});

Deno.test({
  name:
    "deno task serve with REDIS_URL: two chats in two processes relay to each other",
  ignore: !hasRedis(),
  async fn() {
    await using redis = await anyRedis();
    const chats = [
      new Chat({ REDIS_URL: redis.url, DENO_JOBS: "1" }),
      new Chat({ REDIS_URL: redis.url, DENO_JOBS: "1" }),
    ];
    let peers: Peer[] = [];
    try {
      await Promise.all(chats.map((chat) => chat.listening()));
      const [a, b] = chats as [Chat, Chat];
      peers = await join([a.url, b.url, a.url, b.url]);
      await exchange(peers, { tag: "r", count: 20 });
    } finally {
      for (const peer of peers) await hangUp(peer).catch(() => {});
      await Promise.all(chats.map((chat) => chat.stop()));
    }
  },
});

Deno.test("deno serve examples/chat/main.ts without --allow-run (as on Deno Deploy) serves the page's stand-in client, as files with ETags", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--allow-net",
      "--allow-env",
      "--allow-read=examples/chat",
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "examples/chat/main.ts",
    ],
    cwd: new URL("..", import.meta.url).pathname,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let printed = "";
    let listening = LISTENING.exec(printed);
    while (listening === null) {
      const { value, done } = await deadline(
        stderr.read(),
        30_000,
      );
      if (done) throw new Error(`deno serve exited: ${printed}`);
      printed += value;
      listening = LISTENING.exec(printed);
    }
    const base = `http://127.0.0.1:${listening[1]}`;
    const text = await assertServedAsFile(
      `${base}/client.js`,
      JAVASCRIPT,
      /export class WebSocketClient/,
    );
    assertMatch(text, /without reconnecting/);
    await assertServedAsFile(
      `${base}/`,
      HTML,
      /import \{ WebSocketClient \} from "\/client\.js"/,
    );
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await stderr.cancel();
  }
});

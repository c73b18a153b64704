/**
 * The chat example as a newcomer runs it: `deno task serve` (the launcher,
 * `deno serve --parallel`, the page, the relay across workers, SIGTERM), and
 * with `REDIS_URL`, two chats in two processes sharing Redis.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  connect,
  deadline,
  exchange,
  freePort,
  hangUp,
  type Peer,
} from "./_helpers.ts";
import { anyRedis, hasRedis } from "./_redis.ts";

/** `deno task serve` on a free port, until `stop`. */
class Chat {
  readonly port: number = freePort();
  readonly child: Deno.ChildProcess;
  readonly #output: ReadableStreamDefaultReader<string>;
  printed = "";

  constructor(env: Record<string, string> = {}) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["task", "serve"],
      cwd: new URL("..", import.meta.url).pathname,
      env: { PORT: String(this.port), NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#output = this.child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** Waits for the launcher to say where the chat is. */
  async listening(): Promise<void> {
    while (!this.printed.includes(`:${this.port}/`)) {
      const { value, done } = await deadline(
        this.#output.read(),
        "the chat to listen",
        30_000,
      );
      if (done) break;
      this.printed += value;
    }
  }

  #stopped: Promise<Deno.CommandStatus> | undefined;

  /** SIGTERM, then the exit status; SIGKILL if anything is left. */
  stop(): Promise<Deno.CommandStatus> {
    return this.#stopped ??= this.#stop();
  }

  async #stop(): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGTERM");
      return await deadline(this.child.status, "the chat to exit", 10_000);
    } finally {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // Exited already.
      }
      await this.#output.cancel();
      await this.child.status;
    }
  }
}

Deno.test("deno task serve: PORT, the page, the chat, and SIGTERM closing clients with 1001", async () => {
  const chat = new Chat({ DENO_JOBS: "2" });
  try {
    await chat.listening();
    assert.match(
      chat.printed,
      new RegExp(`Chat on http://localhost:${chat.port}/ \\(2 workers\\)`),
    );
    const page = await fetch(`http://127.0.0.1:${chat.port}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>ws4d chat<\/title>/);
    const stats = await fetch(`http://127.0.0.1:${chat.port}/stats`);
    assert.equal(stats.headers.get("content-type"), "application/json");
    const counted = await stats.json();
    assert.equal(counted.connections, 0);
    assert.deepEqual(counted.closes, {});

    const alice = await connect(chat.url);
    await alice.received(1);
    const bob = await connect(chat.url);
    await bob.received(1);
    await alice.received(2);
    bob.socket.send("hi all");
    await alice.received(3);
    const closed = Promise.all([alice.closed, bob.closed]);
    const status = await chat.stop();
    const [aliceClose, bobClose] = await deadline(closed, "clients closed");
    assert.equal(aliceClose.code, 1001);
    assert.equal(bobClose.code, 1001);
    assert.deepEqual(alice.messages, [
      "Welcome on the chat!",
      "New client connected",
      "hi all",
    ]);
    assert.deepEqual(bob.messages, ["Welcome on the chat!"]);
    assert.equal(status.code, 0);
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

Deno.test("deno serve examples/chat/main.ts without --allow-run (as on Deno Deploy) serves the page's stand-in client", async () => {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--allow-net",
      "--allow-env",
      "--allow-read=examples/chat",
      "--port",
      String(port),
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
    while (!printed.includes("Listening on")) {
      const { value, done } = await deadline(
        stderr.read(),
        "deno serve to listen",
        30_000,
      );
      if (done) throw new Error(`deno serve exited: ${printed}`);
      printed += value;
    }
    const script = await fetch(`http://127.0.0.1:${port}/client.js`);
    assert.equal(script.status, 200);
    const text = await script.text();
    assert.match(text, /export class WebSocketClient/);
    assert.match(text, /without reconnecting/);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.match(
      await page.text(),
      /import \{ WebSocketClient \} from "\/client\.js"/,
    );
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await stderr.cancel();
  }
});

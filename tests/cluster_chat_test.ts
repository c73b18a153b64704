/**
 * The chat itself across instances (issue 22): `deno task serve` with 3
 * workers as a child process, and two chat processes joined by a real
 * `redis-server`, a TCP relay in front that cuts the connection at random
 * moments; numbered messages both ways through the chat (a client to the
 * server to the other client, and back): every reopen resumed, nothing
 * lost, duplicated or out of order. The owner killed with SIGKILL. Every
 * child process and its workers end with the test (a process group).
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { WebSocket as WSClient } from "../client.ts";
import { Relay } from "../testkit/relay.ts";
import { Chat } from "./_chat_process.ts";
import { anyRedis, hasRedis } from "./_redis.ts";
import { ClientRecorder, seeded } from "./_helpers.ts";

/** A chat user: a ws4d client with reconnect, its calls recorded. */
class User extends ClientRecorder {
  readonly ws: WSClient;

  constructor(url: string) {
    super({ reconnect: { delay: 0.01, jitter: 0, maxRetries: 50 } });
    this.ws = new WSClient(url, this);
  }

  /** The numbered messages with `tag`, as numbers. */
  numbered(tag: string): number[] {
    return this.messages.map(String).filter((m) => m.startsWith(`${tag}:`))
      .map((m) => Number(m.slice(tag.length + 1)));
  }

  async end(): Promise<void> {
    this.ws.terminate();
    await this.terminated(10_000).catch(() => {});
  }
}

/**
 * A user on `url`, its first open fresh (`resumed: false`) and welcomed by
 * the chat; ended if either fails.
 */
async function joined(url: string): Promise<User> {
  const user = new User(url);
  try {
    assertEquals(await user.nextOpen(15_000), false);
    await user.until(
      () => user.messages.includes("Welcome on the chat!"),
      "welcome",
      20_000,
    );
    return user;
  } catch (error) {
    await user.end();
    throw error;
  }
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/**
 * `cuts` cuts of `roamer`'s connection at seeded moments while both users
 * send numbered messages; before each cut, `beforeCut(i)` (a retarget).
 */
async function cutWhileTalking(
  relay: Relay,
  roamer: User,
  still: User,
  cuts: number,
  beforeCut: (i: number) => void,
): Promise<void> {
  const random = seeded(22);
  let sentRoamer = 0;
  let sentStill = 0;
  let talking = true;
  const talk = (async () => {
    while (talking) {
      roamer.ws.send(`r:${sentRoamer++}`);
      still.ws.send(`s:${sentStill++}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  try {
    for (let i = 0; i < cuts; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10 + random() * 60));
      beforeCut(i);
      relay.cut();
      assertEquals(await roamer.nextOpen(15_000), true, `reopen ${i + 1}`);
    }
  } finally {
    talking = false;
    await talk;
  }
  await still.until(
    () => still.numbered("r").length >= sentRoamer,
    `still got ${still.numbered("r").length} of ${sentRoamer}`,
    20_000,
  );
  await roamer.until(
    () => roamer.numbered("s").length >= sentStill,
    `roamer got ${roamer.numbered("s").length} of ${sentStill}`,
    20_000,
  );
  // Each once, in order, both ways.
  assertEquals(still.numbered("r"), range(sentRoamer));
  assertEquals(roamer.numbered("s"), range(sentStill));
  assertEquals(roamer.opens.map((open) => open.resumed), [
    false,
    ...Array(cuts).fill(true),
  ]);
}

/**
 * SIGTERM to `chat` after its cuts: it exits 0 by itself, within its
 * `closeTimeout` (5 s; Deno alone would keep it 15 s for the cut sockets'
 * ping timers). {@linkcode Chat.stop} fails after 10 s: a guard, not a
 * measure.
 */
async function endsBySignal(chat: Chat): Promise<void> {
  const status = await chat.stop();
  assertEquals(status.code, 0, `the chat exited with ${status.code}`);
}

/**
 * The whole chat's count of connections, from `/stats` of any worker, read
 * after the next heartbeat it takes in (`?fresh`): no polling.
 */
async function chatCount(chat: Chat): Promise<number> {
  const response = await fetch(chat.http("/stats?fresh"));
  const stats: { connections: number } = await response.json();
  return stats.connections;
}

/**
 * {@linkcode chatCount}, read again at each heartbeat (12 at most) until it
 * is `expected`: a connection just moved may be counted a beat late.
 */
async function countOnceSettled(chat: Chat, expected: number): Promise<number> {
  let count = await chatCount(chat);
  for (let beats = 0; count !== expected && beats < 12; beats++) {
    count = await chatCount(chat);
  }
  return count;
}

Deno.test("the chat under deno serve --parallel (3 workers): 20 cuts at random moments, each reopen resumed on whichever worker, every message once and in order both ways", async () => {
  const chat = new Chat({ DENO_JOBS: "3" });
  let roamer: User | undefined;
  let still: User | undefined;
  try {
    await chat.listening();
    await using relay = new Relay({ hostname: "127.0.0.1", port: chat.port });
    roamer = await joined(relay.url("/ws"));
    still = await joined(chat.url);
    await cutWhileTalking(relay, roamer, still, 20, () => {});
    // The whole chat's count, whichever worker answers: each read waits for
    // a heartbeat (every 0.25 s), and the counts agree within a few.
    for (let i = 0; i < 6; i++) {
      assertEquals(await countOnceSettled(chat, 2), 2);
    }
    await roamer.end();
    await still.end();
    await endsBySignal(chat);
  } finally {
    await roamer?.end();
    await still?.end();
    // A guard: the group is killed if the chat did not end.
    chat.kill();
    await chat.stop();
  }
});

Deno.test({
  name:
    "two chat processes on Redis: every reconnect lands on the other process and resumes there, every message once and in order both ways",
  ignore: !hasRedis(),
  async fn() {
    await using redis = await anyRedis();
    const chats = [
      new Chat({ REDIS_URL: redis.url, DENO_JOBS: "1" }),
      new Chat({ REDIS_URL: redis.url, DENO_JOBS: "1" }),
    ];
    let roamer: User | undefined;
    let still: User | undefined;
    try {
      await Promise.all(chats.map((chat) => chat.listening()));
      const [a, b] = chats as [Chat, Chat];
      await using relay = new Relay({ hostname: "127.0.0.1", port: a.port });
      roamer = await joined(relay.url("/ws"));
      still = await joined(b.url);
      const ports = [b.port, a.port];
      await cutWhileTalking(relay, roamer, still, 20, (i) => {
        relay.retarget({ hostname: "127.0.0.1", port: ports[i % 2]! });
      });
      // The whole chat's count, the same from either process: the two users.
      assertEquals(
        [await countOnceSettled(a, 2), await countOnceSettled(b, 2)],
        [2, 2],
      );
      await roamer.end();
      await still.end();
      await Promise.all(chats.map(endsBySignal));
    } finally {
      await roamer?.end();
      await still?.end();
      // A guard: the groups are killed if a chat did not end.
      for (const chat of chats) chat.kill();
      await Promise.all(chats.map((chat) => chat.stop()));
    }
  },
});

Deno.test({
  name:
    "the owner killed with SIGKILL mid-session: the client reopens resumed: false within 2 s, and what it had sent unacknowledged is sent again",
  ignore: !hasRedis(),
  async fn() {
    await using redis = await anyRedis();
    const owner = new Chat({ REDIS_URL: redis.url, DENO_JOBS: "1" });
    const other = new Chat({ REDIS_URL: redis.url, DENO_JOBS: "1" });
    let roamer: User | undefined;
    let still: User | undefined;
    try {
      await Promise.all([owner.listening(), other.listening()]);
      await using relay = new Relay({
        hostname: "127.0.0.1",
        port: owner.port,
      });
      roamer = await joined(relay.url("/ws"));
      // Welcomed: its process hears the room (the chat waits for Redis).
      still = await joined(other.url);
      roamer.ws.send("r:0");
      await still.until(() => still!.numbered("r").length === 1, "r:0", 20_000);
      relay.retarget({ hostname: "127.0.0.1", port: other.port });
      // The owner dies: no close, no goodbye; its socket to the relay drops.
      owner.kill();
      relay.cut();
      const killed = performance.now();
      roamer.ws.send("r:1");
      assertEquals(await roamer.nextOpen(15_000), false);
      const took = performance.now() - killed;
      assert(took < 2000, `resumed: false after ${Math.round(took)} ms`);
      // At least once: r:1, never received by anyone, arrives.
      await still.until(() => still!.numbered("r").includes(1), "r:1", 20_000);
      await roamer.end();
      await still.end();
      await endsBySignal(other);
    } finally {
      await roamer?.end();
      await still?.end();
      // A guard: the groups are killed if a chat did not end.
      other.kill();
      await Promise.all([owner.stop(), other.stop()]);
    }
  },
});

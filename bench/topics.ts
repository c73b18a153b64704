// deno-lint-ignore-file no-console
/**
 * Publish across 2 instances: deliveries per second. Two ws4d servers, each
 * in a worker of this process (as `deno serve --parallel` runs them), share
 * a backplane: a `BroadcastChannelBackplane`, then a `RedisBackplane` (a
 * `redis-server` on a free loopback port, when one can be started). One
 * sender on the first instance publishes 64 B messages to a topic that
 * `--receivers` connections of the second subscribe to, with at most
 * `--inflight` messages not yet received by every receiver; the clients run
 * on this process's main thread.
 *
 * ```sh
 * deno run --allow-all bench/topics.ts [--receivers 1000] [--seconds 5] [--inflight 64]
 * ```
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { deadline } from "@std/async";
import { RedisLauncher } from "../testkit/redis_launcher.ts";

const args = parseArgs(Deno.args, {
  string: ["receivers", "seconds", "inflight"],
  default: { receivers: "1000", seconds: "5", inflight: "64" },
  unknown: (arg) => {
    throw new TypeError(`Unknown argument ${arg}`);
  },
});
const RECEIVERS = Number(args.receivers);
const SECONDS = Number(args.seconds);
const INFLIGHT = Number(args.inflight);
const PAYLOAD = "x".repeat(64);

function ask(worker: Worker, message: unknown): Promise<unknown> {
  return deadline(
    new Promise((resolve) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.postMessage(message);
    }),
    30_000,
  );
}

function open(url: string, onMessage: () => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.onmessage = () => {
      // The first message is "hi": open and subscribed.
      socket.onmessage = onMessage;
      resolve(socket);
    };
    socket.onerror = () => reject(new Error(`Cannot connect to ${url}`));
  });
}

/** Deliveries per second through one kind of backplane. */
async function run(kind: "channel" | "redis", redisUrl?: string) {
  const name = `ws4d-bench-${crypto.randomUUID()}`;
  const workers = [0, 1].map(() =>
    new Worker(new URL("./_topics_worker.ts", import.meta.url), {
      type: "module",
    })
  );
  const sockets: WebSocket[] = [];
  try {
    const [senderPort, receiverPort] = await Promise.all(
      workers.map((worker) => ask(worker, { kind, name, redisUrl })),
    ) as [number, number];
    let delivered = 0;
    let sent = 0;
    let sending = false;
    const to: { sender?: WebSocket } = {};
    const pump = () => {
      while (sending && sent * RECEIVERS - delivered < INFLIGHT * RECEIVERS) {
        to.sender?.send(PAYLOAD);
        sent++;
      }
    };
    const count = () => {
      delivered++;
      if (delivered % RECEIVERS === 0) pump();
    };
    for (let i = 0; i < RECEIVERS; i++) {
      sockets.push(await open(`ws://127.0.0.1:${receiverPort}/`, count));
    }
    await ask(workers[1]!, "settled");
    const sender = await open(`ws://127.0.0.1:${senderPort}/`, () => {});
    to.sender = sender;
    sockets.push(sender);
    await ask(workers[0]!, "settled");
    sending = true;
    const start = performance.now();
    const startDelivered = delivered;
    pump();
    await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
    sending = false;
    const elapsed = (performance.now() - start) / 1000;
    return (delivered - startDelivered) / elapsed;
  } finally {
    for (const socket of sockets) socket.close();
    for (const worker of workers) {
      await ask(worker, "stop").catch(() => {});
      worker.terminate();
    }
  }
}

const rows: [string, number][] = [];
rows.push(["BroadcastChannelBackplane", await run("channel")]);
const redis = new RedisLauncher();
let started = false;
try {
  await redis.start();
  started = true;
  rows.push(["RedisBackplane", await run("redis", redis.url)]);
} catch (error) {
  if (started) throw error;
  console.log(`No redis-server: ${(error as Error).message}`);
} finally {
  if (started) await redis.stop();
}
console.log(
  `Publish across 2 instances, ${RECEIVERS} subscribers on the second, 64 B, ≤ ${INFLIGHT} in flight, ${SECONDS} s:`,
);
for (const [backplane, rate] of rows) {
  console.log(
    `${backplane}: ${Math.round(rate).toLocaleString("en")} deliveries/s`,
  );
}

/**
 * Broadcast fan-out: one sender, 100 then 1,000 receivers, at most 256
 * messages not yet received by every receiver. The servers: raw, ws4d's 4D
 * loop over `connections`, `wss.broadcast`, `ws.publish` to a topic every
 * connection subscribes to (the same deliveries: publish ÷ broadcast, in
 * the same run), and both through a `RedisBackplane` (sender on one
 * instance, receivers on another) when a `redis-server` can be started; it
 * runs pinned with the server and is killed with the run's other children.
 * Each `--against <ref>` adds that ref's loop and `wss.broadcast`,
 * alternated with the others; Bun's `ws.publish` and Node's `ws` (a loop
 * over its clients) are peers, run when they are here.
 *
 * @module
 */
import { RedisLauncher } from "../../testkit/redis_launcher.ts";
import { parseReady } from "../_protocol.ts";
import {
  type Measurement,
  medianOf,
  rate,
  ratioCell,
  ratioTo,
  type Samples,
  spread,
  table,
} from "../_report.ts";
import { connectTimeout, type Runner, split } from "../_runner.ts";
import { formatFixed } from "../_stats.ts";
import { BUN, RAW, type ServerVariant, WS4D } from "../_variants.ts";
import { tools } from "../../testkit/provision.ts";

const INFLIGHT = 256;

const LOCAL: ServerVariant = {
  name: "ws4d-broadcast",
  impl: "ws4d",
  fanout: "broadcast",
  about: "ws4d with `wss.broadcast`",
};
const THROUGH_REDIS: ServerVariant = {
  name: "ws4d-redis",
  impl: "ws4d",
  fanout: "redis",
  about: "ws4d with `wss.broadcast` through a `RedisBackplane`",
};

const PUBLISH: ServerVariant = {
  name: "ws4d-publish",
  impl: "ws4d",
  fanout: "publish",
  about: "ws4d with `ws.publish` to a topic every connection subscribes to",
};
const PUBLISH_THROUGH_REDIS: ServerVariant = {
  name: "ws4d-publish-redis",
  impl: "ws4d",
  fanout: "publish-redis",
  about: "ws4d with `ws.publish` through a `RedisBackplane`",
};

/** Whether the variant runs two instances joined by Redis. */
function throughRedis(variant: ServerVariant): boolean {
  return variant.fanout === "redis" || variant.fanout === "publish-redis";
}

function broadcastRound(
  runner: Runner,
  variant: ServerVariant,
  receivers: number,
  redisUrl: string | undefined,
): Promise<Measurement> {
  return runner.inRound(async (round) => {
    const spec = {
      scenario: "broadcast",
      dataType: "text",
      ...(throughRedis(variant) && redisUrl !== undefined ? { redisUrl } : {}),
    } as const;
    const { server, url } = await round.server(variant, spec);
    // Through Redis: the sender on a second instance, the receivers on this one.
    const senderUrl = throughRedis(variant)
      ? (await round.server(variant, spec)).url
      : url;
    const [mine, theirs] = split(receivers) as [number, number];
    const common = {
      mode: "broadcast",
      url,
      senderUrl,
      inflight: INFLIGHT,
      size: 64,
      ...runner.window,
    } as const;
    const sending = round.load("load 0", {
      ...common,
      receivers: mine,
      sender: true,
      ctrlPort: 0,
      serverPid: server.pid,
    });
    const ready = parseReady(
      await sending.readLine(connectTimeout(receivers), "ready"),
    );
    if (ready.ctrlPort === undefined) throw new Error("load 0 gave no port");
    const other = round.load("load 1", {
      ...common,
      receivers: theirs,
      sender: false,
      ctrlPort: ready.ctrlPort,
      serverPid: 0,
    });
    parseReady(await other.readLine(connectTimeout(receivers), "ready"));
    return round.measure([sending, other]);
  });
}

/** Starts redis-server for the Redis rows; undefined when it cannot run. */
async function startRedis(runner: Runner): Promise<RedisLauncher | undefined> {
  const redis = new RedisLauncher({
    cpus: runner.settings.serverCpus,
    onSpawn: (process) => runner.children.adopt(process),
  });
  try {
    await redis.start();
    return redis;
  } catch {
    return undefined;
  }
}

const FANOUTS: ReadonlyArray<[ServerVariant, string]> = [
  [WS4D, "`for (const c of wss.connections) if (c !== ws) c.send(data)`"],
  [LOCAL, "`wss.broadcast(data, { except: ws })`"],
  [PUBLISH, "`ws.publish(topic, data)`, every connection subscribed"],
  [
    THROUGH_REDIS,
    "`wss.broadcast` through Redis: sender on one instance, receivers on another",
  ],
  [
    BUN,
    "Bun's own `ws.publish(topic, data)`, every connection subscribed (a peer)",
  ],
  [
    PUBLISH_THROUGH_REDIS,
    "`ws.publish` through Redis: sender on one instance, subscribers on another",
  ],
];

/** The loop and `wss.broadcast` of each `--against` ref of the run. */
function againstFanouts(runner: Runner): Array<[ServerVariant, string]> {
  return runner.settings.variants
    .filter((variant) => variant.name.startsWith("ws4d@"))
    .flatMap((variant): Array<[ServerVariant, string]> => [
      [variant, `${variant.name}: the loop over \`wss.connections\``],
      [
        {
          ...variant,
          name: `${variant.name}-broadcast`,
          fanout: "broadcast",
          about: `${variant.name} with \`wss.broadcast\``,
        },
        `${variant.name}: \`wss.broadcast(data, { except: ws })\``,
      ],
    ]);
}

function rows(
  receivers: number,
  samples: Samples,
  fanouts: ReadonlyArray<[ServerVariant, string]>,
): string[][] {
  return fanouts.filter(([variant]) => samples.has(variant.name)).map((
    [variant, how],
  ) => [
    String(receivers),
    how,
    spread(samples, RAW.name),
    spread(samples, variant.name),
    ratioCell(samples, RAW.name, variant.name, rate),
  ]);
}

/** The broadcast table. */
export async function broadcastSection(runner: Runner): Promise<string> {
  const all: string[][] = [];
  const notes: string[] = [];
  const redis = await startRedis(runner);
  const against = againstFanouts(runner);
  const node = runner.settings.variants.find((v) => v.impl === "node");
  const fanouts: Array<[ServerVariant, string]> = [...FANOUTS, ...against];
  if (node !== undefined) {
    fanouts.push([
      node,
      "Node's `ws`: `for (const c of wss.clients) if (c !== ws) c.send(data)` (a peer)",
    ]);
  }
  try {
    for (const receivers of [100, 1000]) {
      const variants = [RAW, WS4D, LOCAL, PUBLISH];
      if (tools().bun !== undefined) variants.push(BUN);
      if (node !== undefined) variants.push(node);
      if (redis !== undefined) {
        variants.push(THROUGH_REDIS, PUBLISH_THROUGH_REDIS);
      }
      variants.push(...against.map(([variant]) => variant));
      const samples = await runner.alternate(
        `broadcast to ${receivers}`,
        variants,
        (variant) => broadcastRound(runner, variant, receivers, redis?.url),
      );
      all.push(...rows(receivers, samples, fanouts));
      runner.goal({
        row: `broadcast 1 → ${receivers} ws4d ÷ raw`,
        value: ratioTo(samples, RAW.name, WS4D.name, rate),
        limit: 0.97,
        atMost: false,
      });
      for (const [variant] of against) {
        const mine = variant.fanout === "broadcast" ? LOCAL : WS4D;
        notes.push(
          `${mine.name} ÷ ${variant.name}, ${receivers} receivers: ${
            formatFixed(ratioTo(samples, variant.name, mine.name, rate), 2)
          }.`,
        );
      }
      notes.push(
        `\`ws.publish\` ÷ \`wss.broadcast\`, ${receivers} receivers: ${
          formatFixed(ratioTo(samples, LOCAL.name, PUBLISH.name, rate), 2)
        }.`,
      );
      if (samples.has(BUN.name)) {
        notes.push(
          `ws4d's \`ws.publish\` ÷ Bun's, ${receivers} receivers: ${
            formatFixed(ratioTo(samples, BUN.name, PUBLISH.name, rate), 2)
          }.`,
        );
      }
      if (redis !== undefined) {
        notes.push(
          `Through Redis, \`ws.publish\` ÷ \`wss.broadcast\`, ${receivers} receivers: ${
            formatFixed(
              ratioTo(
                samples,
                THROUGH_REDIS.name,
                PUBLISH_THROUGH_REDIS.name,
                rate,
              ),
              2,
            )
          }.`,
        );
        notes.push(
          `Through Redis ÷ local \`wss.broadcast\`, ${receivers} receivers: ${
            formatFixed(
              ratioTo(samples, LOCAL.name, THROUGH_REDIS.name, rate),
              2,
            )
          }.`,
        );
      }
      // Without raw rounds every ratio is empty: say why.
      if (!Number.isFinite(medianOf(samples, RAW.name, rate))) {
        notes.push(`Every raw round to ${receivers} receivers failed.`);
      }
    }
  } finally {
    await redis?.stop();
  }
  if (redis === undefined) {
    notes.push("No `redis-server` here: the row through Redis was left out.");
  }
  if (tools().bun === undefined) {
    notes.push("No `bun` here (testkit/provision.ts): its row was left out.");
  }
  return `### Broadcast fan-out (one sender, 64 B, ≤ ${INFLIGHT} messages in flight)\n\n${
    table([
      "receivers",
      "ws4d fan-out",
      "raw deliveries/s",
      "ws4d deliveries/s",
      "ws4d ÷ raw",
    ], all)
  }\n\nThe raw runs are shared by the ws4d rows of a receiver count. ${
    notes.join(" ")
  }`;
}

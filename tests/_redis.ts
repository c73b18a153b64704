/**
 * A real `redis-server` for the tests, on a loopback port, with no
 * persistence: started, stopped and restarted on the same port at will.
 *
 * @module
 */
import { LineChild } from "../testkit/line_child.ts";
import { tools } from "../testkit/provision.ts";
import { RedisLauncher } from "../testkit/redis_launcher.ts";

/** Where testkit/provision.ts found it (Debian: /usr/bin/redis-server). */
export const REDIS_SERVER: string = tools().redisServer?.path ??
  "/usr/bin/redis-server";

/** True where a redis-server can be started. */
export function hasRedisServer(): boolean {
  try {
    return Deno.statSync(REDIS_SERVER).isFile;
  } catch {
    return false;
  }
}

/**
 * The redis-server that `.ci/run` starts on a loopback port for the tests
 * and stops after them (`WS4D_TEST_REDIS_URL`), if any.
 */
export const SHARED_REDIS_URL: string | undefined =
  Deno.env.get("WS4D_TEST_REDIS_URL") || undefined;

/** True where a test that needs a running Redis (not its own) can run. */
export function hasRedis(): boolean {
  return SHARED_REDIS_URL !== undefined || hasRedisServer();
}

/**
 * A Redis for a test that does not stop or restart it: the shared one, or
 * else one of its own, stopped when disposed.
 */
export async function anyRedis(): Promise<{ url: string } & AsyncDisposable> {
  if (SHARED_REDIS_URL !== undefined) {
    return { url: SHARED_REDIS_URL, [Symbol.asyncDispose]: async () => {} };
  }
  const redis = new RedisProcess();
  await redis.start();
  return redis;
}

/**
 * A redis-server child process on a port of its own (see
 * `testkit/redis_launcher.ts`).
 */
export class RedisProcess extends RedisLauncher {
  constructor() {
    super({ program: REDIS_SERVER });
  }
}

/**
 * A ws4d server on a `RedisBackplane` in a process of its own,
 * `deno run tests/<script> <redisUrl> <channel>` (`_redis_server.ts`,
 * `_topics_redis_server.ts`), read line by line: it prints `port <n>` once
 * it listens. Stopped when disposed.
 *
 * @example
 * ```ts ignore
 * import { RedisServerChild } from "./_redis.ts";
 * await using server = new RedisServerChild(
 *   "_redis_server.ts",
 *   "redis://127.0.0.1:6379",
 *   "a-channel",
 * );
 * const ws = new WebSocket(await server.url());
 * ```
 */
export class RedisServerChild extends LineChild {
  /** Starts `deno run tests/<script> <redisUrl> <channel>`. */
  constructor(script: string, redisUrl: string, channel: string) {
    super([
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      new URL(script, import.meta.url).pathname,
      redisUrl,
      channel,
    ]);
  }

  /** The port it listens on, once it says so. */
  async port(): Promise<number> {
    const line = await this.line(/^port \d+$/);
    return Number(line.slice("port ".length));
  }

  /** `ws://127.0.0.1:<port><path>`, once it listens. */
  async url(path = "/"): Promise<string> {
    return `ws://127.0.0.1:${await this.port()}${path}`;
  }
}

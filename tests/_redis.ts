/**
 * A real `redis-server` for the tests, on a free loopback port, with no
 * persistence: started, stopped and restarted on the same port at will.
 *
 * @module
 */
import { deadline, freePort } from "./_helpers.ts";
import { tools } from "./_provision.ts";

/** Where tests/_provision.ts found it (Debian: /usr/bin/redis-server). */
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

/** A redis-server child process on `port`. */
export class RedisProcess {
  readonly port: number;
  #child: Deno.ChildProcess | undefined;
  /** Reads its log to the end, so that it never blocks on a full pipe. */
  #drained: Promise<void> | undefined;

  constructor(port = freePort()) {
    this.port = port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts it and waits until its log says it accepts connections. */
  async start(): Promise<void> {
    const child = new Deno.Command(REDIS_SERVER, {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#child = child;
    const ready = Promise.withResolvers<void>();
    this.#drained = (async () => {
      let log = "";
      for await (
        const chunk of child.stdout.pipeThrough(new TextDecoderStream())
      ) {
        log += chunk;
        if (log.includes("Ready to accept connections")) ready.resolve();
      }
      ready.reject(new Error(`redis-server exited: ${log.slice(-500)}`));
    })();
    await deadline(ready.promise, "redis-server to accept connections", 10_000);
  }

  /** Stops it (SIGKILL: a crash, no goodbye to the clients) and waits. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    child.kill("SIGKILL");
    await deadline(child.status, "redis-server to exit");
    await this.#drained;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

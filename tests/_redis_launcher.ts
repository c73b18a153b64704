/**
 * A `redis-server` child process on a loopback port, with no persistence:
 * started, stopped and restarted on the same port at will. The tests
 * (`_redis.ts`) and the benchmark's broadcast through Redis share it; the
 * benchmark pins it to a CPU (`cpus`) and kills it with its other children
 * (`onSpawn`).
 *
 * @module
 */
import { deadline, freePort } from "./_common.ts";

/** How to launch it. */
export interface RedisLaunchOptions {
  /** The port (default: a free one, chosen now). */
  readonly port?: number;
  /** The program (default `redis-server`, looked up on `PATH`). */
  readonly program?: string;
  /** Pins it to these CPUs with `taskset -c` (default: not pinned). */
  readonly cpus?: string | undefined;
  /** Called with each process it spawns, before it is ready. */
  readonly onSpawn?: (process: Deno.ChildProcess) => void;
  /** How long it may take to accept connections (default 10 s). */
  readonly readyMs?: number;
}

/**
 * A redis-server child process.
 *
 * @example
 * ```ts ignore
 * import { RedisLauncher } from "./_redis_launcher.ts";
 * await using redis = new RedisLauncher();
 * await redis.start();
 * console.log(redis.url);
 * ```
 */
export class RedisLauncher implements AsyncDisposable {
  readonly port: number;
  readonly #options: RedisLaunchOptions;
  #child: Deno.ChildProcess | undefined;
  /** Reads its log to the end, so that it never blocks on a full pipe. */
  #drained: Promise<void> | undefined;

  constructor(options: RedisLaunchOptions = {}) {
    this.port = options.port ?? freePort();
    this.#options = options;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Starts it and waits until its log says it accepts connections; throws
   * (with nothing left running) when it cannot be started or is not ready.
   */
  async start(): Promise<void> {
    const program = this.#options.program ?? "redis-server";
    const args = [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ];
    const cpus = this.#options.cpus;
    const child = new Deno.Command(
      cpus === undefined ? program : "taskset",
      {
        args: cpus === undefined ? args : ["-c", cpus, program, ...args],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      },
    ).spawn();
    this.#child = child;
    this.#options.onSpawn?.(child);
    const ready = Promise.withResolvers<void>();
    this.#drained = (async () => {
      let log = "";
      try {
        for await (
          const chunk of child.stdout.pipeThrough(new TextDecoderStream())
        ) {
          log += chunk;
          if (log.includes("Ready to accept connections")) ready.resolve();
          // Only the last lines matter once it is ready.
          if (log.length > 8192) log = log.slice(-1024);
        }
      } finally {
        ready.reject(new Error(`redis-server exited: ${log.slice(-500)}`));
      }
    })();
    try {
      await deadline(
        ready.promise,
        "redis-server to accept connections",
        this.#options.readyMs ?? 10_000,
      );
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Stops it (SIGKILL: a crash, no goodbye to the clients) and waits. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    try {
      child.kill("SIGKILL");
    } catch {
      // It has exited already.
    }
    await deadline(child.status, "redis-server to exit");
    await this.#drained?.catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

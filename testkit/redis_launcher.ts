/**
 * A `redis-server` child process on a loopback port, with no persistence:
 * started, stopped and restarted on the same port at will. The tests
 * (`tests/_redis.ts`) and the benchmark's broadcast through Redis share it;
 * the benchmark pins it to a CPU (`cpus`) and kills it with its other
 * children (`onSpawn`).
 *
 * The port: redis-server cannot be told "any free port" (`--port 0` turns
 * TCP off) and cannot be handed a listening socket, and a port found free by
 * listening and closing may be taken before redis-server binds it. So, unless
 * a port is given, it takes a random one below the kernel's ephemeral range,
 * which no `port: 0` listener and no outgoing connection is ever given, and
 * tries another when redis-server says the port is in use.
 *
 * @module
 */
import { deadline } from "@std/async";

/** How to launch it. */
export interface RedisLaunchOptions {
  /**
   * The port (default: a random one below the ephemeral range, another if
   * it is in use).
   */
  readonly port?: number;
  /**
   * Chooses the port when none is given, and again when the one chosen is
   * in use (default: a random one below the ephemeral range).
   */
  readonly choosePort?: () => number;
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
 * import { RedisLauncher } from "./redis_launcher.ts";
 * await using redis = new RedisLauncher();
 * await redis.start();
 * console.log(redis.url);
 * ```
 */
export class RedisLauncher implements AsyncDisposable {
  readonly #options: RedisLaunchOptions;
  #port: number;
  /** Whether `#port` may still change: chosen here, and never bound yet. */
  #portChosen: boolean;
  #child: Deno.ChildProcess | undefined;
  /** Reads its log to the end, so that it never blocks on a full pipe. */
  #drained: Promise<void> | undefined;

  constructor(options: RedisLaunchOptions = {}) {
    this.#options = options;
    this.#port = options.port ?? this.#choosePort();
    this.#portChosen = options.port === undefined;
  }

  #choosePort(): number {
    return (this.#options.choosePort ?? unlikelyTakenPort)();
  }

  /** Its port: where it listens once started, the same on every restart. */
  get port(): number {
    return this.#port;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.#port}`;
  }

  /**
   * Starts it and waits until its log says it accepts connections; throws
   * (with nothing left running) when it cannot be started or is not ready.
   * A port it chose and found in use is replaced, up to 20 times.
   */
  async start(): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        await this.#startOnce();
        this.#portChosen = false;
        return;
      } catch (error) {
        const inUse = error instanceof PortInUse;
        if (!inUse || !this.#portChosen || attempt === 20) throw error;
        this.#port = this.#choosePort();
      }
    }
  }

  async #startOnce(): Promise<void> {
    const program = this.#options.program ?? "redis-server";
    const args = [
      "--port",
      String(this.#port),
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
        ready.reject(
          log.includes("Address already in use")
            ? new PortInUse(this.#port)
            : new Error(`redis-server exited: ${log.slice(-500)}`),
        );
      }
    })();
    try {
      await deadline(ready.promise, this.#options.readyMs ?? 10_000);
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
    await deadline(child.status, 10_000);
    await this.#drained?.catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** redis-server could not bind its port. */
class PortInUse extends Error {
  constructor(port: number) {
    super(`redis-server: port ${port} is in use`);
  }
}

/**
 * A random port in the 10,000 below the kernel's ephemeral range (Linux:
 * `ip_local_port_range`, else IANA's 49152): the kernel never hands those
 * out, neither to a listener on port 0 nor to an outgoing connection, so
 * only another explicit choice can take one.
 */
export function unlikelyTakenPort(): number {
  let low = 49152;
  try {
    const range = Deno.readTextFileSync(
      "/proc/sys/net/ipv4/ip_local_port_range",
    );
    low = Number(range.trim().split(/\s+/)[0]) || low;
  } catch {
    // Not Linux, or no read permission: IANA's range.
  }
  const bottom = Math.max(1024, low - 10_000);
  return bottom + Math.floor(Math.random() * (low - bottom));
}

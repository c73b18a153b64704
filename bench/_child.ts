// deno-lint-ignore-file no-console
/**
 * The orchestrator's child processes: spawned with the hard limit of open
 * files as their soft limit, talked to in lines with a timeout on every
 * wait, and always killed in the end, even when the run fails.
 *
 * @module
 */
import { deadline } from "@std/async/deadline";
import { readLines } from "./_lines.ts";

/** How long a child may take to exit once killed or told to stop. */
const EXIT_TIMEOUT_MS = 5_000;

const encoder = new TextEncoder();

/** One child process: its pid, its stdout lines, its stdin. */
export class Child {
  readonly name: string;
  readonly pid: number;
  readonly #process: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: string[] = [];
  #waiter: (() => void) | undefined;
  #ended = false;
  #exited = false;

  constructor(name: string, process: Deno.ChildProcess, living: Set<Child>) {
    this.name = name;
    this.#process = process;
    this.pid = process.pid;
    this.#stdin = process.stdin.getWriter();
    living.add(this);
    (async () => {
      try {
        for await (const line of readLines(process.stdout)) {
          this.#lines.push(line);
          this.#wake();
        }
      } catch {
        // A killed child's pipe may end with an error: it has ended.
      } finally {
        this.#ended = true;
        this.#wake();
      }
    })();
    process.status.then(() => {
      this.#exited = true;
      living.delete(this);
    });
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  /** The next stdout line, waiting at most `ms` for it. */
  async readLine(ms: number, what: string): Promise<string> {
    const until = Date.now() + ms;
    while (this.#lines.length === 0) {
      if (this.#ended) {
        throw new Error(`${this.name} exited while waiting for ${what}`);
      }
      const left = until - Date.now();
      if (left <= 0) {
        throw new Error(`${this.name}: no ${what} after ${ms} ms`);
      }
      const woken = Promise.withResolvers<void>();
      this.#waiter = woken.resolve;
      // Woken by a line or the end; else the loop says it came too late.
      await deadline(woken.promise, left).catch(() => {});
    }
    return this.#lines.shift() as string;
  }

  /** Writes `line` and a `\n` to the child's stdin. */
  async send(line: string): Promise<void> {
    await this.#stdin.write(encoder.encode(`${line}\n`));
  }

  /** Closes the child's stdin: the bench's children exit when it ends. */
  async end(): Promise<void> {
    await this.#stdin.close().catch(() => {});
  }

  /** Waits at most `ms` for the child to exit by itself; false if it did not. */
  async exited(ms: number): Promise<boolean> {
    if (this.#exited) return true;
    return await deadline(this.#process.status, ms).then(
      () => true,
      () => false,
    );
  }

  /** Kills the child (SIGKILL) unless it has exited, and reaps it. */
  async kill(): Promise<void> {
    if (!this.#exited) {
      try {
        this.#process.kill("SIGKILL");
      } catch {
        // It exited in the meantime.
      }
    }
    await this.#stdin.close().catch(() => {});
    if (!await this.exited(EXIT_TIMEOUT_MS)) {
      throw new Error(`${this.name} (pid ${this.pid}) did not die`);
    }
  }
}

/** How to start a child. */
export interface SpawnOptions {
  /** Pins it to these CPUs with `taskset -c`. */
  readonly cpus?: string | undefined;
  /** Variables added to its environment. */
  readonly env?: Readonly<Record<string, string>> | undefined;
}

/**
 * The children of one run: every one it spawns or adopts, so that
 * {@linkcode Children.killAll} finds them on any exit, and the clean-ups to
 * run then.
 */
export class Children {
  /** Every child not yet reaped. */
  readonly #living = new Set<Child>();
  /** Processes spawned elsewhere (redis-server) to kill with the others. */
  readonly #adopted = new Set<Deno.ChildProcess>();
  readonly #cleanups: Array<() => Promise<void>> = [];

  /**
   * Spawns `deno <args>` through `bash -c 'ulimit -n <hard>; exec …'`, so
   * the pid is Deno's own and it may open as many files as the system
   * allows.
   */
  spawnDeno(
    name: string,
    args: readonly string[],
    options: SpawnOptions = {},
  ): Child {
    return this.spawn(name, Deno.execPath(), args, options);
  }

  /** Spawns `program` as {@linkcode Children.spawnDeno} does a Deno child. */
  spawn(
    name: string,
    program: string,
    args: readonly string[],
    options: SpawnOptions = {},
  ): Child {
    const pin = options.cpus === undefined
      ? []
      : ["taskset", "-c", options.cpus];
    const command = new Deno.Command("bash", {
      args: [
        "-c",
        'ulimit -n "$(ulimit -Hn)" && exec "$@"',
        "bash",
        ...pin,
        program,
        ...args,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      ...(options.env === undefined ? {} : { env: { ...options.env } }),
    });
    return new Child(name, command.spawn(), this.#living);
  }

  /** Kills `process` with the children, unless it has exited by then. */
  adopt(process: Deno.ChildProcess): void {
    this.#adopted.add(process);
    process.status.then(() => this.#adopted.delete(process));
  }

  /** Runs `cleanup` once, after the children are killed, on any exit. */
  atExit(cleanup: () => Promise<void>): void {
    this.#cleanups.push(cleanup);
  }

  /** Kills every child still alive, then runs the clean-ups. */
  async killAll(): Promise<void> {
    await Promise.allSettled([
      ...[...this.#living].map((child) => child.kill()),
      ...[...this.#adopted].map(async (process) => {
        try {
          process.kill("SIGKILL");
        } catch {
          // It exited in the meantime.
        }
        await process.status;
      }),
    ]);
    await Promise.allSettled(this.#cleanups.splice(0).map((run) => run()));
  }
}

/** The soft limit that `spawnDeno` gives its children: the hard limit. */
export async function openFilesLimit(): Promise<number> {
  const output = await new Deno.Command("bash", {
    args: ["-c", "ulimit -Hn"],
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  return text === "unlimited" ? Infinity : Number(text);
}

/** Whether `taskset` can pin processes to CPUs here. */
export async function hasTaskset(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("taskset", {
      args: ["-c", "0", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * Runs a command's `main` with its {@linkcode Children} to its end and
 * exits: 0 when it returns, 1 when it throws, 130 on SIGINT/SIGTERM, 2 when
 * it is still running after `watchdogMs`; every child is killed and every
 * clean-up run first in each case.
 */
export async function runToEnd(
  name: string,
  main: (children: Children) => Promise<void>,
  watchdogMs: number,
): Promise<never> {
  const children = new Children();
  setTimeout(() => {
    console.error(`${name}: still running after ${watchdogMs / 1000} s`);
    children.killAll().finally(() => Deno.exit(2));
  }, watchdogMs);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      children.killAll().finally(() => Deno.exit(130));
    });
  }
  try {
    await main(children);
  } catch (error) {
    console.error(error);
    await children.killAll();
    Deno.exit(1);
  }
  await children.killAll();
  Deno.exit(0);
}

// deno-lint-ignore-file no-console
/**
 * The orchestrator's child processes: spawned with the hard limit of open
 * files as their soft limit, talked to in lines with a timeout on every
 * wait, and always killed in the end, even when the run fails.
 *
 * @module
 */
import { readLines } from "./_lines.ts";

/** Every child not yet reaped, so that `killAll` finds them on any exit. */
const living = new Set<Child>();

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

  constructor(name: string, process: Deno.ChildProcess) {
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
    const deadline = Date.now() + ms;
    while (this.#lines.length === 0) {
      if (this.#ended) {
        throw new Error(`${this.name} exited while waiting for ${what}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${this.name}: no ${what} after ${ms} ms`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
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
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const done = await Promise.race([
      this.#process.status.then(() => true),
      late,
    ]);
    clearTimeout(timer);
    return done;
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

/**
 * Spawns `deno <args>` through `bash -c 'ulimit -n <hard>; exec …'`, so the
 * pid is Deno's own and it may open as many files as the system allows.
 */
export function spawnDeno(
  name: string,
  args: readonly string[],
  cpus?: string,
): Child {
  return spawn(name, Deno.execPath(), args, cpus);
}

/** Spawns `program` as {@linkcode spawnDeno} does a Deno child. */
export function spawn(
  name: string,
  program: string,
  args: readonly string[],
  cpus?: string,
): Child {
  const pin = cpus === undefined ? [] : ["taskset", "-c", cpus];
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
  });
  return new Child(name, command.spawn());
}

/** Kills every child still alive. */
export async function killAll(): Promise<void> {
  await Promise.allSettled([...living].map((child) => child.kill()));
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
 * Runs a command's `main` to its end and exits: 0 when it returns, 1 when it
 * throws, 130 on SIGINT/SIGTERM, 2 when it is still running after
 * `watchdogMs`; every child is killed first in each case.
 */
export async function runToEnd(
  name: string,
  main: () => Promise<void>,
  watchdogMs: number,
): Promise<never> {
  setTimeout(() => {
    console.error(`${name}: still running after ${watchdogMs / 1000} s`);
    killAll().finally(() => Deno.exit(2));
  }, watchdogMs);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      killAll().finally(() => Deno.exit(130));
    });
  }
  try {
    await main();
  } catch (error) {
    console.error(error);
    await killAll();
    Deno.exit(1);
  }
  await killAll();
  Deno.exit(0);
}

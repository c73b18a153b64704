/**
 * A Deno child process whose standard output is read line by line, for a
 * test or a bench that waits for what the child says ("port 1234", "ready").
 *
 * @module
 */
import { deadline } from "@std/async/deadline";

/**
 * `deno <args>` as a child, its stdout kept as lines; stopped when disposed.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { LineChild } from "./line_child.ts";
 * await using child = new LineChild([
 *   "eval",
 *   "console.log('port 1234'); setTimeout(() => {}, 60_000);",
 * ]);
 * assertEquals(await child.line(/^port \d+$/), "port 1234");
 * ```
 */
export class LineChild implements AsyncDisposable {
  /** Every line it printed so far. */
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #waiters = new Set<() => void>();
  readonly #read: Promise<void>;

  /** Starts `deno <args>`; its stderr goes to ours. */
  constructor(args: string[]) {
    const child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#child = child;
    this.#read = (async () => {
      let rest = "";
      for await (
        const chunk of child.stdout.pipeThrough(new TextDecoderStream())
      ) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop() ?? "";
        this.lines.push(...parts);
        for (const wake of [...this.#waiters]) wake();
      }
    })();
  }

  /**
   * Resolves with the `count`-th line (past or future) that matches
   * `pattern`; fails after `ms`.
   */
  async line(pattern: RegExp, count = 1, ms = 15_000): Promise<string> {
    const found = () => this.lines.filter((line) => pattern.test(line));
    const { promise, resolve } = Promise.withResolvers<void>();
    const check = () => {
      if (found().length >= count) resolve();
    };
    this.#waiters.add(check);
    try {
      check();
      await deadline(promise, ms);
    } finally {
      this.#waiters.delete(check);
    }
    return found()[count - 1] as string;
  }

  /** Resolves when the child has exited. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  /** Sends `signal` to the child; nothing if it has exited. */
  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Exited already.
    }
  }

  /** Waits for its standard output to end (after it exits). */
  output(): Promise<void> {
    return this.#read;
  }

  /** SIGTERM, then waits for it to exit (at most 5 s) and for its output. */
  async stop(): Promise<void> {
    this.kill("SIGTERM");
    await deadline(this.#child.status, 5000);
    await this.#read;
  }

  /**
   * {@linkcode LineChild.stop}; a child still alive after it is killed
   * (SIGKILL) and waited for, and the failure of `stop` thrown.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.stop();
    } finally {
      this.kill("SIGKILL");
      await this.#child.status;
      await this.#read;
    }
  }
}

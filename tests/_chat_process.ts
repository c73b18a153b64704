/**
 * The chat example as a child process: `deno task serve` on port 0 (the
 * port it bound read back from what it prints), in a process group of its
 * own so that it and every process it started (`deno run serve.ts`,
 * `deno serve --parallel` and its workers) end with the test, also when
 * the test fails.
 *
 * @module
 */
import { deadline } from "@std/async/deadline";
import { killGroup, spawnGroup } from "./_process_group.ts";

/** What the launcher prints once every worker is up. */
const CHAT_ON = /Chat on http:\/\/localhost:(\d+)\/ \((\d+) workers?\)/;

/**
 * `deno task serve` on port 0 (the port it bound is read back), or on the
 * `PORT` that `env` gives, until `stop` or its disposal.
 *
 * @example
 * ```ts ignore
 * import { Chat } from "./_chat_process.ts";
 * await using chat = new Chat({ DENO_JOBS: "2" });
 * await chat.listening(); // chat.port: the port bound; chat.workers: 2
 * await (await fetch(chat.http("/"))).text();
 * ```
 */
export class Chat implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly #output: ReadableStreamDefaultReader<string>;
  printed = "";
  /** What it wrote to stderr so far, for the message of a failure. */
  #errors = "";
  readonly #errorReader: ReadableStreamDefaultReader<string>;
  readonly #errorsRead: Promise<void>;
  /** The port the chat listens on, once {@linkcode Chat.listening} resolved. */
  port = 0;
  /** How many workers it said it has, once {@linkcode Chat.listening} resolved. */
  workers = 0;

  constructor(env: Record<string, string> = {}) {
    // In a process group of its own: `deno task` starts `deno run
    // serve.ts`, which starts `deno serve` and its workers; the group ends
    // them all, also when a test fails.
    this.child = spawnGroup(Deno.execPath(), {
      args: ["task", "serve"],
      cwd: new URL("..", import.meta.url).pathname,
      env: { PORT: "0", NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "piped",
    });
    this.#output = this.child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    const errors = this.child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    this.#errorReader = errors;
    this.#errorsRead = (async () => {
      for (;;) {
        const { value, done } = await errors.read();
        if (done) return;
        this.#errors += value;
      }
    })().catch(() => {});
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** `http://127.0.0.1:<port>` and `path`. */
  http(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Waits for the launcher to say where the chat is; reads its port. */
  async listening(): Promise<void> {
    let said = CHAT_ON.exec(this.printed);
    while (said === null) {
      const { value, done } = await deadline(
        this.#output.read(),
        30_000,
      );
      if (done) {
        throw new Error(
          `The chat exited, having printed: ${this.printed}${this.#errors}`,
        );
      }
      this.printed += value;
      said = CHAT_ON.exec(this.printed);
    }
    this.port = Number(said[1]);
    this.workers = Number(said[2]);
  }

  /** SIGKILL to the chat and all its processes: no shutdown, no goodbye. */
  kill(): void {
    killGroup(this.child);
  }

  #stopped: Promise<Deno.CommandStatus> | undefined;

  /** SIGTERM, then the exit status; SIGKILL if anything is left. */
  stop(): Promise<Deno.CommandStatus> {
    return this.#stopped ??= this.#stop();
  }

  /**
   * {@linkcode Chat.stop}, but a chat still alive 10 s after SIGTERM is no
   * failure here (it is killed with its group all the same): `undefined`
   * then. `deno serve --parallel` (Deno 2.9.6) now and then stays alive
   * after its shutdown, no longer listening and with no connection; a test
   * that asserts the exit awaits `stop` (tests/chat_test.ts).
   */
  async end(): Promise<Deno.CommandStatus | undefined> {
    try {
      return await this.stop();
    } catch (error) {
      if (error instanceof DOMException && error.name === "TimeoutError") {
        return undefined;
      }
      throw error;
    }
  }

  /** {@linkcode Chat.end}: no process of the chat is left. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.end();
  }

  async #stop(): Promise<Deno.CommandStatus> {
    try {
      try {
        this.child.kill("SIGTERM");
      } catch {
        // Exited already (a failed start): its status says how.
      }
      return await deadline(this.child.status, 10_000);
    } finally {
      killGroup(this.child);
      await this.#output.cancel();
      await this.#errorReader.cancel();
      await this.#errorsRead;
      await this.child.status;
    }
  }
}

/**
 * The framework examples (issue #24), each started as a real child process
 * on a free port (it says which), with a real ws4d client: a middleware
 * establishes the user from the token, and the connection greets that user
 * by its context; without a token the middleware answers 401; the 101
 * carries the header `onConnection` added. The child is ended also when a
 * check fails.
 *
 * @module
 */
import { assertEquals, assertMatch } from "@std/assert";
import { deadline } from "@std/async";
import { WebSocket } from "../mod.ts";
import { rawRequest, readHead, upgradeHead } from "../testkit/raw_peer.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** A child process and the port it listens on, read from its output. */
interface Child extends AsyncDisposable {
  readonly port: number;
}

/**
 * Starts `args` under Deno, and reads the port from the first line of
 * `stream` that `pattern` matches. Disposing ends the child (`stop`,
 * SIGTERM unless said) and waits for it.
 */
async function start(
  args: string[],
  stream: "stdout" | "stderr",
  pattern: RegExp,
  stop: Deno.Signal = "SIGTERM",
): Promise<Child> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { PORT: "0", NO_COLOR: "1" },
    stdin: "null",
    stdout: stream === "stdout" ? "piped" : "null",
    stderr: stream === "stderr" ? "piped" : "null",
  }).spawn();
  const end = async () => {
    try {
      child.kill(stop);
    } catch {
      // Ended already.
    }
    await child.status;
  };
  const reader = child[stream].pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  try {
    const port = await deadline(
      (async () => {
        while (true) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`the child ended first: ${text}`);
          text += value;
          // Whole lines only: a number may come in two reads.
          for (const line of text.split("\n").slice(0, -1)) {
            const match = line.match(pattern);
            if (match?.[1] !== undefined) return Number(match[1]);
          }
        }
      })(),
      60_000,
    );
    // Keep reading, so that the child never blocks on a full pipe.
    const rest = (async () => {
      while (!(await reader.read()).done) { /* drained */ }
    })().catch(() => {});
    return {
      port,
      async [Symbol.asyncDispose]() {
        await end();
        await rest;
      },
    };
  } catch (error) {
    await end();
    await reader.cancel().catch(() => {});
    throw error;
  }
}

/** Connects a ws4d client with `token`, returns the first message. */
async function greeting(port: number, token: string): Promise<unknown> {
  const first = Promise.withResolvers<unknown>();
  const closed = Promise.withResolvers<void>();
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`, {
    onMessage: (_ws, event) => first.resolve(event.data),
    onError: (_ws, event) => first.reject(new Error(event.errors[0]?.message)),
    onTerminate: () => closed.resolve(),
  });
  try {
    return await deadline(first.promise, 10_000);
  } finally {
    ws.terminate();
    await deadline(closed.promise, 10_000);
  }
}

/** What each example must do, on `child`'s port. */
async function checkExample(port: number): Promise<void> {
  assertEquals(await greeting(port, "ada"), "hello Ada Lovelace");
  assertEquals(await greeting(port, "alan"), "hello Alan Turing");
  const refused = await fetch(`http://127.0.0.1:${port}/ws`);
  assertEquals(refused.status, 401);
  await refused.body?.cancel();
  const conn = await rawRequest(port, upgradeHead(port, "/ws?token=ada"));
  try {
    const head = (await readHead(conn)).toLowerCase();
    assertMatch(head, /^http\/1\.1 101 /);
    assertMatch(head, /\r\nx-user-id: u1\r\n/);
  } finally {
    conn.close();
  }
}

Deno.test("examples/hono: a Hono middleware's user reaches the connection as its context", async () => {
  await using child = await start(
    ["run", "--allow-net", "--allow-env", "examples/hono/main.ts"],
    "stdout",
    /^listening on (\d+)$/,
  );
  await checkExample(child.port);
});

Deno.test("examples/oak: an oak middleware's user reaches the connection as its context", async () => {
  await using child = await start(
    [
      "serve",
      "--allow-env",
      "--allow-read",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "examples/oak/main.ts",
    ],
    "stderr",
    /Listening on http:\/\/127\.0\.0\.1:(\d+)\//,
    // deno serve shuts down gracefully on SIGTERM, and Deno 2.9.6 keeps the
    // idle-timeout timer of a socket that broke without a close (the raw
    // peer's) for 15 s: nothing of the example is left to check by then.
    "SIGKILL",
  );
  await checkExample(child.port);
});

Deno.test("docs/typescript.md and docs/frameworks.md: every code block type-checks, every relative link resolves", async () => {
  const pages = ["docs/typescript.md", "docs/frameworks.md"];
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--doc-only", ...pages],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  assertEquals(success, true, new TextDecoder().decode(stderr).slice(-3000));
  for (const page of pages) {
    const text = await Deno.readTextFile(`${ROOT}${page}`);
    for (const [, target] of text.matchAll(/\]\(([^)#:]+)(#[^)]*)?\)/g)) {
      if (target === undefined) continue;
      const path = new URL(target, `file://${ROOT}${page}`).pathname;
      await Deno.stat(path).catch(() => {
        throw new Error(`${page}: the link ${target} does not resolve`);
      });
    }
  }
});

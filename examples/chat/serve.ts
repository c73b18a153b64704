/**
 * `deno task serve`: the chat under `deno serve --parallel`, one worker per
 * core (`DENO_JOBS` sets another count), on `PORT` (default 8000, set here
 * because the task shell does not expand `${PORT:-8000}`). The workers share
 * broadcasts through a BroadcastChannel; `REDIS_URL` switches to Redis.
 * Ctrl-C and SIGTERM are passed on: every client gets 1001, then it exits.
 * The page's client is bundled once here, before the workers start, and
 * handed to them in the environment (bundle.ts).
 *
 * @module
 */
import { bundleClient, CLIENT_ENV } from "./bundle.ts";
import { READY_ENV, READY_LINE } from "./ready.ts";

const port = Number(Deno.env.get("PORT") ?? "8000");
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  // deno-lint-ignore no-console
  console.error(`PORT must be a port number, not ${Deno.env.get("PORT")}`);
  Deno.exit(2);
}

let client: string;
try {
  client = await bundleClient();
} catch (error) {
  // deno-lint-ignore no-console
  console.error((error as Error).message);
  Deno.exit(1);
}

const here = new URL(".", import.meta.url).pathname;
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "serve",
    "--parallel",
    // npm packages in ./node_modules, not only in Deno's global cache: there,
    // Deno 2.9.6 does not lay out the copy of npm:redis that its optional
    // peer @opentelemetry/api calls for when both are in the graph (main.ts
    // may load redis.ts and otel.ts), and the import fails ("Cannot find
    // module .../redis/5.12.4_1/index.js") one start in two.
    "--node-modules-dir=auto",
    "--allow-net",
    "--allow-env",
    "--allow-sys",
    `--allow-read=${here}`,
    "--port",
    String(port),
    new URL("./main.ts", import.meta.url).pathname,
  ],
  // The package's folder: its deno.json maps the @std imports.
  cwd: new URL("../..", import.meta.url).pathname,
  env: { [CLIENT_ENV]: client, [READY_ENV]: "1" },
  stdout: "inherit",
  // `deno serve` says where it listens on stderr.
  stderr: "piped",
}).spawn();

function pass(signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // It has exited already.
  }
}

// A signal that comes while a worker is still starting waits until every
// worker is up: one that had not yet listened to it would go on running
// (its BroadcastChannel holds it) after `deno serve` stopped the rest. A
// second signal is passed on at once.
let ready = false;
let held: Deno.Signal | undefined;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    if (ready || held !== undefined) pass(signal);
    else held = signal;
  });
}

// Say where the chat is once every worker is up; pass the rest on.
const encoder = new TextEncoder();
let rest = "";
let listening: { port: string; workers: number } | undefined;
let started = 0;
for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
  const lines = (rest + chunk).split("\n");
  rest = lines.pop() ?? "";
  for (const line of lines) {
    const match = /Listening on https?:\/\/[^:]+:(\d+)\/(?: with (\d+) thread)?/
      .exec(line);
    if (match !== null) {
      listening = { port: match[1] ?? "", workers: Number(match[2] ?? 1) };
    } else if (line.includes(READY_LINE)) {
      started++;
    } else {
      await Deno.stderr.write(encoder.encode(`${line}\n`));
      continue;
    }
    if (ready || listening === undefined || started < listening.workers) {
      continue;
    }
    ready = true;
    const { port, workers } = listening;
    await Deno.stdout.write(encoder.encode(
      `Chat on http://localhost:${port}/ (${workers} worker${
        workers === 1 ? "" : "s"
      })\n`,
    ));
    if (held !== undefined) pass(held);
  }
}
Deno.exit((await child.status).code);

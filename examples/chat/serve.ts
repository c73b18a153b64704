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
    "--allow-net",
    "--allow-env",
    "--allow-sys",
    `--allow-read=${here}`,
    "--port",
    String(port),
    new URL("./main.ts", import.meta.url).pathname,
  ],
  env: { [CLIENT_ENV]: client },
  stdout: "inherit",
  // `deno serve` says where it listens on stderr.
  stderr: "piped",
}).spawn();

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    try {
      child.kill(signal);
    } catch {
      // It has exited already.
    }
  });
}

// Say where the chat is once the workers listen; pass the rest on.
const encoder = new TextEncoder();
let rest = "";
for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
  const lines = (rest + chunk).split("\n");
  rest = lines.pop() ?? "";
  for (const line of lines) {
    const listening =
      /Listening on https?:\/\/[^:]+:(\d+)\/(?: with (\d+) thread)?/
        .exec(line);
    if (listening === null) {
      await Deno.stderr.write(encoder.encode(`${line}\n`));
      continue;
    }
    const workers = Number(listening[2] ?? 1);
    await Deno.stdout.write(encoder.encode(
      `Chat on http://localhost:${listening[1]}/ (${workers} worker${
        workers === 1 ? "" : "s"
      })\n`,
    ));
  }
}
Deno.exit((await child.status).code);

/**
 * `deno task serve`: the chat on `PORT` (default 8000, set here because the
 * task shell does not expand `${PORT:-8000}`).
 *
 * @module
 */
import { fetch, wss } from "./main.ts";
import { closeOnSignals } from "./signals.ts";

const port = Number(Deno.env.get("PORT") ?? "8000");
const server = Deno.serve({
  port,
  onListen: ({ hostname, port }) =>
    // deno-lint-ignore no-console
    console.log(
      `Chat on http://${
        hostname === "0.0.0.0" ? "localhost" : hostname
      }:${port}/`,
    ),
}, fetch);
closeOnSignals(wss, server);

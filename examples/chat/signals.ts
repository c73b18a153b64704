/**
 * Ctrl-C (SIGINT) and SIGTERM close every client with 1001, then exit.
 *
 * @module
 */
import type { WebSocketServer } from "../../mod.ts";

/** Terminates `wss` (and `server`, when given) on SIGINT or SIGTERM. */
export function closeOnSignals(
  wss: WebSocketServer,
  server?: Deno.HttpServer,
): void {
  let closing = false;
  const stop = async () => {
    if (closing) return;
    closing = true;
    await wss.terminate({ timeout: 2000 });
    await server?.shutdown();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

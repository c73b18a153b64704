/**
 * Ctrl-C (SIGINT) and SIGTERM close every client with 1001. Under `deno
 * serve` (each worker of `--parallel` too) the runtime then shuts its
 * listener down and exits once the close handshakes are done.
 *
 * @module
 */
import type { WebSocketServer } from "../../mod.ts";

/** Terminates `wss` on SIGINT or SIGTERM, once. */
export function closeOnSignals(wss: WebSocketServer): void {
  const stop = () => void wss.terminate({ timeout: 2000 });
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

/**
 * Run by tests/client_tls_test.ts in a process that trusts the test's
 * certificate (`--cert`): connects with the client to the URL given and
 * prints what it saw as JSON.
 *
 * @module
 */
import { WebSocket } from "../mod.ts";

const url = Deno.args[0] as string;
const seen: unknown[] = [];
await new Promise<void>((resolve) => {
  const ws = new WebSocket(url, {
    dataType: "object",
    onOpen: (ws) => ws.send({ over: "tls" }),
    onMessage(ws, event) {
      seen.push(event.data);
      ws.terminate(4000, "done");
    },
    onError: (_ws, event) => void seen.push(event.errors.map((e) => e.errCode)),
    onTerminate(_ws, event) {
      seen.push(event.code);
      resolve();
    },
  });
  seen.push(ws.url.slice(0, 6));
});
// deno-lint-ignore no-console
console.log(JSON.stringify(seen));

/**
 * Run by tests/client_tls_test.ts in a process that trusts the test's
 * certificate (`--cert`): connects with the client to the URL given and
 * prints what it saw as JSON: the scheme, the messages, the error codes (if
 * any), the close code.
 *
 * @module
 */
import { WebSocket } from "../mod.ts";
import { ClientRecorder } from "./_helpers.ts";

const url = Deno.args[0] as string;
const log = new ClientRecorder({
  dataType: "object",
  onOpen: (ws) => ws.send({ over: "tls" }),
  onMessage: (ws) => ws.terminate(4000, "done"),
});
const ws = new WebSocket(url, log);
const end = await log.terminated(20_000);
const errors = log.errors.map((e) => e.errCode);
// deno-lint-ignore no-console
console.log(JSON.stringify([
  ws.url.slice(0, 6),
  ...log.messages,
  ...(errors.length > 0 ? [errors] : []),
  end.code,
]));

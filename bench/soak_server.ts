/**
 * The server of `deno task soak`, in its own process: a ws4d echo on a free
 * loopback port, with `/stats` telling how many connections it has served.
 * It prints its port, then runs until SIGTERM, which terminates it cleanly.
 * With `--raw`, the same echo written directly on `Deno.upgradeWebSocket`,
 * to tell ws4d's memory from Deno's own.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { WebSocketServer } from "../mod.ts";

let opened = 0;
let terminated = 0;
const wss = new WebSocketServer({
  onConnection: () => ({
    onOpen: () => void opened++,
    onMessage: (ws, event) => ws.send(event.data),
    onTerminate: () => void terminated++,
  }),
}, { closeTimeout: 2 });

let live = 0;
function rawEcho(request: Request): Response {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onopen = () => void (opened++, live++);
  socket.onmessage = (event) => socket.send(event.data);
  socket.onclose = () => void (terminated++, live--);
  return response;
}

const { raw } = parseArgs(Deno.args, {
  boolean: ["raw"],
  unknown: (arg) => {
    throw new TypeError(`Unknown argument ${arg}`);
  },
});
const server = Deno.serve(
  { port: 0, hostname: "127.0.0.1", onListen() {} },
  (request, info) => {
    if (new URL(request.url).pathname === "/stats") {
      return Response.json({
        opened,
        terminated,
        live: raw ? live : wss.connections.length,
      });
    }
    return raw ? rawEcho(request) : wss.fetch(request, info);
  },
);

Deno.addSignalListener("SIGTERM", async () => {
  await wss.terminate(1);
  await server.shutdown();
  Deno.exit(0);
});

await Deno.stdout.write(new TextEncoder().encode(`${server.addr.port}\n`));

/**
 * One instance of a relaying ws4d server with a Redis backplane, in its own
 * process: `deno run tests/_redis_server.ts <redis-url> <channel>`. It prints
 * `port <n>` once listening, then one JSON line per server `onError`, and
 * terminates on SIGTERM.
 *
 * @module
 */
import { WebSocketServer } from "../mod.ts";
import { RedisBackplane } from "../redis.ts";

const [url, channel] = Deno.args as [string, string];
const backplane = new RedisBackplane(url, { channel, maxReconnectDelay: 0.2 });
const encoder = new TextEncoder();
const print = (line: string) =>
  Deno.stdout.write(encoder.encode(`${line}\n`)).then(() => {});

const wss = new WebSocketServer({
  onConnection: () => ({
    onMessage: (ws, event) => ws.wss.broadcast(event.data, { except: ws }),
  }),
  onError: (_, event) =>
    print(JSON.stringify({
      statusText: event.statusText,
      errors: event.errors.map((e) => [e.errCode, e.message]),
    })),
}, { port: 0, hostname: "127.0.0.1", backplane });

Deno.addSignalListener("SIGTERM", async () => {
  await wss.terminate(1);
  Deno.exit(0);
});
await backplane.ready;
await print(`port ${wss.addr?.port}`);

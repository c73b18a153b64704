/**
 * A worker running one ws4d server with a BroadcastChannel backplane: the
 * same as one worker of `deno serve --parallel`. It posts its port, and
 * terminates its server when told "stop".
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { BroadcastChannelBackplane, WebSocketServer } from "../mod.ts";

self.onmessage = async (event: MessageEvent<{ channel: string } | "stop">) => {
  if (event.data === "stop") {
    await wss?.terminate();
    self.postMessage("stopped");
    return;
  }
  wss = new WebSocketServer({
    onConnection: () => ({
      onMessage: (ws, message) =>
        ws.wss.broadcast(message.data, { except: ws }),
    }),
  }, {
    port: 0,
    hostname: "127.0.0.1",
    backplane: new BroadcastChannelBackplane(event.data.channel),
  });
  self.postMessage(wss.addr?.port);
};
let wss: WebSocketServer | undefined;

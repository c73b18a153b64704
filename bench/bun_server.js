// deno-lint-ignore-file no-console
// The Bun peer of the benchmark's broadcast fan-out: `bun bench/bun_server.js`.
// One Bun server on 127.0.0.1, a free port, printed as its first stdout
// line. Every connection is subscribed to the topic "bench" and told "hi"
// when it opens; each message goes to every other subscriber with Bun's own
// `ws.publish` (which skips its sender, as ws4d's does). Lines on stdin:
// `count` answers the open connections; the process exits when stdin ends.
let open = 0;
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(request, server) {
    if (server.upgrade(request)) return undefined;
    return new Response("Upgrade Required", { status: 426 });
  },
  websocket: {
    idleTimeout: 30,
    open(ws) {
      open++;
      ws.subscribe("bench");
      ws.send("hi");
    },
    message(ws, message) {
      ws.publish("bench", message);
    },
    close() {
      open--;
    },
  },
});
console.log(String(server.port));

const decoder = new TextDecoder();
let rest = "";
for await (const chunk of Bun.stdin.stream()) {
  const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
  rest = lines.pop() ?? "";
  for (const line of lines) if (line === "count") console.log(String(open));
}
server.stop(true);
process.exit(0);

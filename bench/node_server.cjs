// deno-lint-ignore-file no-console no-process-global
// The Node peer of the benchmark: `node --expose-gc bench/node_server.cjs
// <path of the ws package> echo|broadcast text|blob|object`, with Node 22
// and npm's `ws` (bench/_node_peer.ts installs both). It speaks as
// bench/server.ts does: one server on 127.0.0.1, a free port, printed as
// its first stdout line; every connection is told "hi" when it opens;
// `echo` sends each message back (under "object" through JSON.parse and
// JSON.stringify, under "blob" as binary), `broadcast` sends it to every
// other open client with a loop over `wss.clients`. Lines on stdin: `count`
// answers the open connections, `gc` runs `global.gc()` twice and answers
// `ok`, `heap` answers `process.memoryUsage().heapUsed` after GC. The process
// exits when stdin ends.
"use strict";
const [wsPath, scenario = "echo", dataType = "text"] = process.argv.slice(2);
const { WebSocketServer } = require(wsPath);

const OPEN = 1;
const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });

wss.on("connection", (ws) => {
  ws.on("error", () => {});
  if (scenario === "broadcast") {
    ws.on("message", (data, isBinary) => {
      for (const client of wss.clients) {
        if (client !== ws && client.readyState === OPEN) {
          client.send(data, { binary: isBinary });
        }
      }
    });
  } else if (dataType === "object") {
    ws.on("message", (data) => {
      ws.send(JSON.stringify(JSON.parse(data.toString())));
    });
  } else {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
  ws.send("hi");
});

wss.on("listening", () => console.log(String(wss.address().port)));

function collect() {
  if (typeof global.gc === "function") {
    global.gc();
    global.gc();
  }
}

let rest = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  const lines = (rest + chunk).split("\n");
  rest = lines.pop() ?? "";
  for (const line of lines) {
    if (line === "count") console.log(String(wss.clients.size));
    else if (line === "gc") {
      collect();
      console.log("ok");
    } else if (line === "heap") {
      collect();
      console.log(String(process.memoryUsage().heapUsed));
    }
  }
});
process.stdin.on("end", () => process.exit(0));

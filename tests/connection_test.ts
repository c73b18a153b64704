import {
  assertEquals,
  assertExists,
  assertMatch,
  assertThrows,
} from "@std/assert";
import { ErrorCode, type WebSocketConnection } from "../mod.ts";
import { noteUpgrades, type Upgrade } from "./_fake_clock.ts";
import { concat } from "../testkit/frames.ts";
import { deadline } from "@std/async/deadline";
import { connect, hangUp, listen, Recorder } from "./_helpers.ts";
import {
  buildFrame,
  closeOf,
  rawPeer,
  readFramesUntil,
  upgradeHead,
} from "../testkit/raw_peer.ts";

/** The connection `recorder` saw (it has seen one). */
function connectionOf(recorder: Recorder): WebSocketConnection {
  const connection = recorder.connection;
  assertExists(connection, "the recorder saw no connection");
  return connection;
}

Deno.test("WebSocketConnection callbacks: open first, messages in order, terminate last, this is the handler", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder });
  const peer = await connect(server.url);
  for (const text of ["1", "2", "3"]) peer.socket.send(text);
  await recorder.received(3);
  peer.socket.close(4000, "bye");
  await recorder.terminated();
  assertEquals(recorder.types, [
    "open",
    "message",
    "message",
    "message",
    "terminate",
  ]);
  assertEquals(recorder.messages, ["1", "2", "3"]);
  const end = recorder.calls.at(-1)?.event;
  assertEquals([end?.code, end?.reason], [4000, "bye"]);
  assertEquals(recorder.connection?.status, "Closed");
  await deadline(peer.closed, 5000);
});

Deno.test("WebSocketConnection serialises async callbacks: b waits, delivered, until a's promise settles", async () => {
  const log: string[] = [];
  const aStarted = Promise.withResolvers<void>();
  const releaseA = Promise.withResolvers<void>();
  const bEnded = Promise.withResolvers<void>();
  const upgrades: Upgrade[] = [];
  using _upgrading = noteUpgrades(upgrades);
  await using server = listen({
    onConnection: () => ({
      async onMessage(_ws: WebSocketConnection, event: { data: unknown }) {
        log.push(`start ${event.data}`);
        if (event.data === "a") {
          aStarted.resolve();
          await releaseA.promise;
        }
        log.push(`end ${event.data}`);
        if (event.data === "b") bEnded.resolve();
      },
    }),
  });
  const peer = await connect(server.url);
  const socket = upgrades[0]?.socket;
  assertExists(socket);
  // The server socket's own "message" event for b: ws4d's handler, set
  // first, has run in it, so b waits in ws4d's queue.
  const bArrived = new Promise<void>((resolve) =>
    socket.addEventListener("message", (event) => {
      if (event.data === "b") resolve();
    })
  );
  peer.socket.send("a");
  peer.socket.send("b");
  await deadline(aStarted.promise, 5000);
  await deadline(bArrived, 5000);
  assertEquals(log, ["start a"]);
  releaseA.resolve();
  await deadline(bEnded.promise, 5000);
  assertEquals(log, ["start a", "end a", "start b", "end b"]);
  await hangUp(peer);
});

for (const kind of ["throws", "rejects"] as const) {
  Deno.test(`WebSocketConnection: a callback that ${kind} gives onError, 1011, onTerminate; others go on`, async () => {
    const bad = new Recorder({
      onMessage() {
        if (kind === "throws") throw new Error("boom");
        return Promise.reject(new Error("boom"));
      },
    });
    const good = new Recorder({
      onMessage: (ws, event) => ws.send(event.data),
    });
    const handlers = [bad, good];
    let next = 0;
    await using server = listen({ onConnection: () => handlers[next++] });
    const badPeer = await connect(server.url);
    const goodPeer = await connect(server.url);
    badPeer.socket.send("x");
    assertEquals((await deadline(badPeer.closed, 5000)).code, 1011);
    await bad.terminated();
    assertEquals(bad.types, ["open", "message", "error", "terminate"]);
    const error = bad.calls[2]?.event.errors?.[0];
    assertEquals(error?.errCode, ErrorCode.CallbackFailed);
    assertMatch(String(error?.message), /onMessage.*boom/);
    goodPeer.socket.send("still here");
    await goodPeer.received(1);
    assertEquals(goodPeer.messages, ["still here"]);
    await hangUp(goodPeer);
  });
}

Deno.test("WebSocketConnection.send() chooses the frame by type", async () => {
  const sent: unknown[] = [
    "text",
    new Uint8Array([1, 2]).buffer,
    new Uint8Array([3]),
    new Blob([new Uint8Array([4])]),
    { a: 1 },
    [1, 2],
    7,
    null,
  ];
  const recorder = new Recorder({
    onMessage(ws) {
      for (const value of sent) ws.send(value);
    },
  });
  await using server = listen({ onConnection: () => recorder });
  const peer = await connect(server.url);
  peer.socket.send("go");
  await peer.received(sent.length);
  const seen = peer.messages.map((m) =>
    m instanceof ArrayBuffer ? [...new Uint8Array(m)] : m
  );
  assertEquals(seen, [
    "text",
    [1, 2],
    [3],
    [4],
    '{"a":1}',
    "[1,2]",
    "7",
    "null",
  ]);
  const ws = connectionOf(recorder);
  const circular: Record<string, unknown> = {};
  circular.me = circular;
  for (const value of [undefined, () => {}, Symbol(), 1n, circular]) {
    // @ts-expect-error: only the circular one type-checks
    assertThrows(() => ws.send(value), TypeError);
  }
  await hangUp(peer);
  await recorder.terminated();
  assertEquals(ws.send("late"), false);
});

const terminations: [
  Parameters<WebSocketConnection["terminate"]>,
  number,
  string,
][] = [
  [[4001, "custom"], 4001, "custom"],
  [[3001], 3001, ""],
  [[3000, "x"], 1000, ""],
  [[1001, "x"], 1000, ""],
  [[], 1000, ""],
];
for (const [args, code, reason] of terminations) {
  Deno.test(`WebSocketConnection.terminate(${args.join(", ")}) closes with ${code}`, async () => {
    const recorder = new Recorder();
    await using server = listen({ onConnection: () => recorder });
    const peer = await connect(server.url);
    await recorder.opened();
    connectionOf(recorder).terminate(...args);
    const closed = await deadline(peer.closed, 5000);
    assertEquals([closed.code, closed.reason], [code, reason]);
    await recorder.terminated();
    assertEquals(recorder.types, ["open", "terminate"]);
  });
}

Deno.test("WebSocketConnection.terminate() names a wrong argument", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder });
  const peer = await connect(server.url);
  await recorder.opened();
  const ws = connectionOf(recorder);
  assertThrows(
    () => ws.terminate("4001" as never),
    TypeError,
    "code must be a number",
  );
  assertThrows(
    () => ws.terminate(4000.5),
    RangeError,
    "code must be an integer",
  );
  assertThrows(() => ws.terminate(4001, 5 as never), TypeError);
  assertThrows(() => ws.terminate(4001, "x".repeat(124)), RangeError);
  assertEquals(ws.status, "Connected");
  await hangUp(peer);
});

for (const dataType of ["text", "blob", "object"] as const) {
  Deno.test(`WebSocketConnection dataType ${dataType} converts both frame types`, async () => {
    const recorder = new Recorder();
    await using server = listen({ onConnection: () => recorder }, {
      dataType,
    });
    const peer = await connect(server.url);
    peer.socket.send('{"n":1}');
    peer.socket.send(new TextEncoder().encode('{"n":2}'));
    await recorder.received(2);
    const expected = {
      text: ['{"n":1}', '{"n":2}'],
      blob: [
        new TextEncoder().encode('{"n":1}'),
        new TextEncoder().encode('{"n":2}'),
      ],
      object: [{ n: 1 }, { n: 2 }],
    }[dataType];
    assertEquals(recorder.messages, expected);
    await hangUp(peer);
  });
}

const fatal = [
  [
    "a message over maxMessageSize",
    { maxMessageSize: 4 },
    "12345",
    1009,
    ErrorCode.MessageTooLarge,
  ],
  [
    "invalid JSON under object",
    { dataType: "object" },
    "{nope",
    1007,
    ErrorCode.InvalidJSON,
  ],
  [
    "invalid UTF-8 in a binary frame under text",
    {},
    new Uint8Array([0xff, 0xfe]),
    1007,
    ErrorCode.InvalidUTF8,
  ],
] as const;
for (const [what, options, message, code, errCode] of fatal) {
  Deno.test(`WebSocketConnection closes ${code} on ${what}`, async () => {
    const recorder = new Recorder();
    const other = new Recorder();
    const handlers = [recorder, other];
    let next = 0;
    await using server = listen(
      { onConnection: () => handlers[next++] },
      options,
    );
    const peer = await connect(server.url);
    const otherPeer = await connect(server.url);
    peer.socket.send(message);
    assertEquals((await deadline(peer.closed, 5000)).code, code);
    await recorder.terminated();
    assertEquals(recorder.types, ["open", "error", "terminate"]);
    const error = recorder.calls[1]?.event;
    assertEquals(error?.errors?.[0]?.errCode, errCode);
    assertEquals(error?.status?.errors?.[0]?.errCode, errCode);
    assertEquals(recorder.calls[2]?.event.code, code);
    assertEquals(otherPeer.socket.readyState, WebSocket.OPEN);
    await hangUp(otherPeer);
  });
}

Deno.test("WebSocketConnection: a peer that drops TCP gives onTerminate 1006", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder });
  const peer = await rawPeer(server.port);
  await recorder.opened();
  peer.conn.close();
  await recorder.terminated();
  assertEquals(recorder.types, ["open", "terminate"]);
  // SPEC: a server connection's terminate event has no wasClean.
  assertEquals(recorder.calls[1]?.event, {
    type: "terminate",
    code: 1006,
    reason: "",
  });
});

Deno.test("WebSocketConnection: a callback that throws while messages wait stops them; onTerminate still runs", async () => {
  const opened = Promise.withResolvers<void>();
  const recorder = new Recorder({
    // onOpen holds the queue: the three messages wait behind it.
    onOpen: () => opened.promise,
    onMessage(_ws, event) {
      if (event.data === "1") throw new Error("boom");
    },
  });
  await using server = listen({ onConnection: () => recorder });
  const { port } = server;
  // The handshake, three messages and a ping in one write: Deno answers the
  // ping once it has handed the three messages over, while onOpen waits.
  const text = (value: string) => new TextEncoder().encode(value);
  const head = text(upgradeHead(port));
  const frames = ["1", "2", "3"].map((data) => buildFrame(1, text(data)));
  const ping = buildFrame(9, text("p"));
  const burst = concat([head, ...frames, ping]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(burst);
  let bytes = "";
  const buffer = new Uint8Array(4096);
  await deadline(
    (async () => {
      // The pong (0x8a) comes after the 101 head.
      while (!/\r\n\r\n[^]*\x8a/.test(bytes)) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error("the server ended TCP");
        bytes += String.fromCharCode(...buffer.subarray(0, n));
      }
    })(),
    5000,
  );
  opened.resolve();
  // The close (1011) comes; answering it ends the connection.
  const answer = await readFramesUntil(
    conn,
    (got) => got.some((frame) => frame.opcode === 8),
    "the close frame",
  );
  const close = answer.find((frame) => frame.opcode === 8);
  assertExists(close);
  assertEquals(closeOf(close)[0], 1011);
  await conn.write(buildFrame(8, close.payload));
  await recorder.terminated();
  conn.close();
  assertEquals(recorder.types, ["open", "message", "error", "terminate"]);
});

Deno.test("WebSocketConnection.send() after the peer left returns false, from a timer, and the process lives on", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      new URL("./fixtures/late_send.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assertEquals(code, 0, decoder.decode(stderr));
  assertEquals(decoder.decode(stdout).trim(), "false");
});

Deno.test("WebSocketConnection.send() returns true while connected, false once closing or closed; a bad value still throws", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder });
  const peer = await connect(server.url);
  await recorder.opened();
  const ws = connectionOf(recorder);
  assertEquals(ws.send("hi"), true);
  ws.terminate(4000, "bye");
  assertEquals(ws.status, "Closing");
  assertEquals(ws.send("while closing"), false);
  // @ts-expect-error: a symbol cannot be sent, and does not type-check
  assertThrows(() => ws.send(Symbol("no")), TypeError);
  await recorder.terminated();
  assertEquals(ws.send("after"), false);
  await hangUp(peer);
  await peer.received(1);
  assertEquals(peer.messages, ["hi"]);
});

/** A third-party peer, the `ws` package of npm, talking to our server. */
import assert from "node:assert/strict";
import WS from "npm:ws@^8";
import { deadline, listen, Recorder } from "./_helpers.ts";

/** Opens a `ws` client; resolves on open with its received messages. */
async function wsPeer(url: string, protocols?: string | string[]) {
  const socket = new WS(url, protocols);
  const messages: { data: string | Uint8Array; binary: boolean }[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on(
      "close",
      (code: number, reason: Uint8Array) =>
        resolve({ code, reason: new TextDecoder().decode(reason) }),
    )
  );
  const waiters: (() => void)[] = [];
  socket.on("message", (data: Uint8Array, binary: boolean) => {
    messages.push({
      data: binary ? new Uint8Array(data) : new TextDecoder().decode(data),
      binary,
    });
    for (const waiter of waiters.splice(0)) waiter();
  });
  await deadline(
    new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    }),
    "ws open",
  );
  return {
    socket,
    messages,
    closed,
    async received(count: number) {
      while (messages.length < count) {
        await deadline(
          new Promise<void>((resolve) => waiters.push(resolve)),
          `${count} messages`,
        );
      }
    },
  };
}

Deno.test("npm:ws client: text under text, bytes under blob, JSON under object", async () => {
  const cases = [
    ["text", "hello", "hello", { data: "hello", binary: false }],
    ["blob", new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]), {
      data: new Uint8Array([1, 2, 3]),
      binary: true,
    }],
    ["object", '{"a":[1,"b"]}', { a: [1, "b"] }, {
      data: '{"a":[1,"b"]}',
      binary: false,
    }],
  ] as const;
  for (const [dataType, sent, received, echoed] of cases) {
    const echo = new Recorder({
      onMessage: (ws, event) => ws.send(event.data),
    });
    await using server = listen({ onConnection: () => echo }, { dataType });
    const peer = await wsPeer(server.url);
    peer.socket.send(sent);
    await peer.received(1);
    assert.deepEqual(echo.messages, [received], dataType);
    assert.deepEqual(peer.messages, [echoed], dataType);
    peer.socket.close(1000);
    assert.equal((await deadline(peer.closed, "close")).code, 1000);
    await echo.terminated();
  }
});

Deno.test("npm:ws client: close codes both ways", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder });
  const peer = await wsPeer(server.url);
  peer.socket.close(4321, "client says bye");
  assert.equal((await deadline(peer.closed, "close")).code, 4321);
  await recorder.terminated();
  const end = recorder.calls.at(-1)?.event;
  assert.deepEqual([end?.code, end?.reason], [4321, "client says bye"]);

  const second = new Recorder();
  await using server2 = listen({ onConnection: () => second });
  const peer2 = await wsPeer(server2.url);
  await second.opened();
  second.connection?.terminate(4002, "server says bye");
  assert.deepEqual(await deadline(peer2.closed, "close"), {
    code: 4002,
    reason: "server says bye",
  });
  await second.terminated();
  assert.equal(second.calls.at(-1)?.event.code, 4002);
});

Deno.test("npm:ws client: a no-code close gives 1005, a cut gives 1006", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder });
  const peer = await wsPeer(server.url);
  peer.socket.close();
  await recorder.terminated();
  assert.equal(recorder.calls.at(-1)?.event.code, 1005);
  await deadline(peer.closed, "close");

  const cut = new Recorder();
  await using server2 = listen({ onConnection: () => cut });
  const peer2 = await wsPeer(server2.url);
  await cut.opened();
  peer2.socket.terminate();
  await cut.terminated();
  assert.equal(cut.calls.at(-1)?.event.code, 1006);
  await deadline(peer2.closed, "close");
});

Deno.test('npm:ws client: subprotocol from a raw "a,b" offer', async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    protocols: ["b", "c"],
  });
  const peer = await wsPeer(server.url, ["a", "b"]);
  assert.equal(peer.socket.protocol, "b");
  await recorder.opened();
  assert.equal(recorder.connection?.protocol, "b");
  peer.socket.close(1000);
  await deadline(peer.closed, "close");
  await recorder.terminated();
});

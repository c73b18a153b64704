/** A third-party peer, the `ws` package of npm, talking to our server. */
import { assertEquals } from "@std/assert";
import { deadline } from "@std/async";
import WS from "npm:ws@^8";
import { listen, Recorder } from "./_helpers.ts";

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
    5000,
  );
  return {
    socket,
    messages,
    closed,
    async received(count: number) {
      while (messages.length < count) {
        await deadline(
          new Promise<void>((resolve) => waiters.push(resolve)),
          5000,
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
    assertEquals(echo.messages, [received], dataType);
    assertEquals(peer.messages, [echoed], dataType);
    peer.socket.close(1000);
    assertEquals((await deadline(peer.closed, 5000)).code, 1000);
    await echo.terminated();
  }
});

Deno.test("npm:ws client: close codes both ways", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder });
  const peer = await wsPeer(server.url);
  peer.socket.close(4321, "client says bye");
  assertEquals((await deadline(peer.closed, 5000)).code, 4321);
  await recorder.terminated();
  const end = recorder.calls.at(-1)?.event;
  assertEquals([end?.code, end?.reason], [4321, "client says bye"]);

  const second = new Recorder();
  await using server2 = listen({ onConnection: () => second });
  const peer2 = await wsPeer(server2.url);
  await second.opened();
  second.connection?.terminate(4002, "server says bye");
  assertEquals(await deadline(peer2.closed, 5000), {
    code: 4002,
    reason: "server says bye",
  });
  await second.terminated();
  assertEquals(second.calls.at(-1)?.event.code, 4002);
});

Deno.test("npm:ws client: a no-code close gives 1005, a cut gives 1006", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder });
  const peer = await wsPeer(server.url);
  peer.socket.close();
  await recorder.terminated();
  assertEquals(recorder.calls.at(-1)?.event.code, 1005);
  await deadline(peer.closed, 5000);

  const cut = new Recorder();
  await using server2 = listen({ onConnection: () => cut });
  const peer2 = await wsPeer(server2.url);
  await cut.opened();
  peer2.socket.terminate();
  await cut.terminated();
  assertEquals(cut.calls.at(-1)?.event.code, 1006);
  await deadline(peer2.closed, 5000);
});

Deno.test('npm:ws client: subprotocol from a raw "a,b" offer', async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    protocols: ["b", "c"],
  });
  const peer = await wsPeer(server.url, ["a", "b"]);
  assertEquals(peer.socket.protocol, "b");
  await recorder.opened();
  assertEquals(recorder.connection?.protocol, "b");
  peer.socket.close(1000);
  await deadline(peer.closed, 5000);
  await recorder.terminated();
});

import assert from "node:assert/strict";
import { deadline } from "./_helpers.ts";

/** A free loopback port: listen on 0, read it, close. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test({
  name:
    "deno task serve: PORT, the page, the chat, and SIGTERM closing clients with 1001",
  async fn() {
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "serve"],
      cwd: new URL("..", import.meta.url).pathname,
      env: { PORT: String(port), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const output = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    try {
      let printed = "";
      while (!printed.includes(`:${port}/`)) {
        const { value, done } = await deadline(
          output.read(),
          "the chat to listen",
          30_000,
        );
        if (done) break;
        printed += value;
      }
      assert.match(printed, new RegExp(`Chat on http://localhost:${port}/`));
      const page = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>ws4d chat<\/title>/);

      const open = (messages: string[]) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
        socket.onmessage = (event) => messages.push(event.data);
        const closed = new Promise<CloseEvent>((resolve) =>
          socket.onclose = resolve
        );
        const opened = new Promise<void>((resolve) =>
          socket.onopen = () => resolve()
        );
        return { socket, closed, opened };
      };
      const a: string[] = [];
      const b: string[] = [];
      const alice = open(a);
      await deadline(alice.opened, "alice open");
      const bob = open(b);
      await deadline(bob.opened, "bob open");
      const relayed = new Promise<void>((resolve) => {
        alice.socket.addEventListener("message", (event) => {
          if (event.data === "hi all") resolve();
        });
      });
      bob.socket.send("hi all");
      await deadline(relayed, "the message relayed to alice");
      child.kill("SIGTERM");
      const [aliceClose, bobClose] = await deadline(
        Promise.all([alice.closed, bob.closed]),
        "clients closed by SIGTERM",
        10_000,
      );
      assert.equal(aliceClose.code, 1001);
      assert.equal(bobClose.code, 1001);
      assert.deepEqual(a, [
        "Welcome on the chat!",
        "New client connected",
        "hi all",
      ]);
      assert.deepEqual(b, ["Welcome on the chat!"]);
      const status = await deadline(child.status, "the chat to exit", 10_000);
      assert.equal(status.code, 0);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited already.
      }
      await output.cancel();
      await child.status;
    }
  },
});

/**
 * Shutting a server down: 4D's `terminate(timeout)` in seconds (`0` cuts at
 * once) against a peer that never answers a close, and the `signals` option
 * in a subprocess, listening by itself and under `deno serve` (SPEC.md,
 * WebSocketServer; issue 11, points 5 and 8).
 *
 * @module
 */
import assert from "node:assert/strict";
import { WebSocketServer } from "../mod.ts";
import { deadline, listen, Recorder } from "./_helpers.ts";
import { rawPeer } from "./_raw.ts";

/** A raw peer on `port`, open: it never answers a close. */
async function silentPeer(port: number, recorder: Recorder) {
  const peer = await rawPeer(port);
  assert.match(peer.head, /^HTTP\/1\.1 101/);
  await recorder.opened();
  return peer;
}

Deno.test("WebSocketServer.terminate(0) cuts a silent peer at once, onTerminate 1006", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    closeTimeout: 60,
  });
  const { wss } = server;
  const peer = await silentPeer(server.port, recorder);
  // closeTimeout is 60 s: only a cut that waits for nothing ends in time.
  await deadline(wss.terminate(0), "terminate(0)", 3000);
  assert.deepEqual(recorder.types, ["open", "terminate"]);
  assert.equal(recorder.calls.at(-1)?.event.code, 1006);
  assert.deepEqual(wss.connections, []);
  await peer.readToEnd();
  peer.conn.close();
});

Deno.test("WebSocketServer.terminate(0.3) waits 0.3 s for a silent peer, then cuts it", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    closeTimeout: 60,
  });
  const peer = await silentPeer(server.port, recorder);
  const start = performance.now();
  const done = server.wss.terminate(0.3);
  await recorder.when((c) => c.name === "onTerminate", "onTerminate", 3000);
  assert.ok(performance.now() - start >= 250, "not before the timeout");
  assert.equal(recorder.calls.at(-1)?.event.code, 1006);
  await deadline(done, "terminate(0.3)", 3000);
  await peer.readToEnd();
  peer.conn.close();
});

Deno.test("WebSocketServer.terminate() waits for closeTimeout seconds by default", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    closeTimeout: 0.2,
  });
  const peer = await silentPeer(server.port, recorder);
  await deadline(server.wss.terminate(), "terminate()", 3000);
  assert.equal(recorder.calls.at(-1)?.event.code, 1006);
  await peer.readToEnd();
  peer.conn.close();
});

/** A child process whose stdout is read as JSON lines. */
function spawn(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: unknown[] = [];
  const stderr: string[] = [];
  const waiters: (() => void)[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>, out: string[]) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      out.push(...parts);
      for (const wake of waiters.splice(0)) wake();
    }
  };
  const stdoutLines: string[] = [];
  const reading = Promise.all([
    pump(child.stdout, stdoutLines),
    pump(child.stderr, stderr),
  ]);
  return {
    child,
    stderr,
    /** The JSON lines printed so far. */
    get lines() {
      lines.length = 0;
      for (const line of stdoutLines) {
        if (line.startsWith("{")) lines.push(JSON.parse(line));
      }
      return lines;
    },
    /** Waits until a line of stdout or stderr matches `test`. */
    async until<T>(
      test: (out: string[], err: string[]) => T | undefined,
      what: string,
      ms = 20_000,
    ): Promise<T> {
      return await deadline(
        (async () => {
          while (true) {
            const found = test(stdoutLines, stderr);
            if (found !== undefined) return found;
            const { promise, resolve } = Promise.withResolvers<void>();
            waiters.push(resolve);
            await Promise.race([promise, reading]);
            const again = test(stdoutLines, stderr);
            if (again !== undefined) return again;
            if ((await Promise.race([reading, 0])) !== 0) {
              throw new Error(`the process ended before ${what}`);
            }
          }
        })(),
        `${what} (stderr: ${stderr.join("\n")})`,
        ms,
      );
    },
    async end(): Promise<Deno.CommandStatus> {
      const status = await deadline(
        child.status,
        "the process to exit",
        20_000,
      );
      await reading;
      return status;
    },
  };
}

/** Opens a WebSocket, waits for its first message; resolves its close. */
async function client(url: string) {
  const socket = new WebSocket(url);
  const closed = new Promise<CloseEvent>((resolve) =>
    socket.addEventListener("close", resolve)
  );
  await deadline(
    new Promise((resolve, reject) => {
      socket.onmessage = resolve;
      socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
    }),
    "the greeting",
  );
  return { closed };
}

const FIXTURE = new URL("./fixtures/signals_server.ts", import.meta.url)
  .pathname;

Deno.test("signals: SIGTERM terminates a server listening by itself: clients get 1001, every onTerminate runs, exit 0", async () => {
  const proc = spawn(["run", "--allow-net", FIXTURE, "listen"]);
  const port = await proc.until(
    (out) => {
      const line = out.find((l) => l.includes('"port"'));
      return line === undefined ? undefined : JSON.parse(line).port as number;
    },
    "the port",
  );
  const { closed } = await client(`ws://127.0.0.1:${port}/`);
  proc.child.kill("SIGTERM");
  const event = await deadline(closed, "the client's close", 10_000);
  assert.equal(event.code, 1001);
  const status = await proc.end();
  assert.deepEqual(proc.lines.slice(1), [
    { connection: 1001 },
    { server: "terminate" },
  ]);
  assert.equal(status.code, 0, proc.stderr.join("\n"));
});

Deno.test("signals: SIGTERM under deno serve: clients get 1001, onTerminate says 1001, the server's runs, exit 0", async () => {
  const proc = spawn([
    "serve",
    "--allow-net",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    FIXTURE,
  ]);
  const port = await proc.until(
    (out, err) => {
      for (const line of [...out, ...err]) {
        const match = /Listening on https?:\/\/[^\s]*:(\d+)\//.exec(line);
        if (match !== null) return Number(match[1]);
      }
      return undefined;
    },
    "deno serve to listen",
  );
  const { closed } = await client(`ws://127.0.0.1:${port}/`);
  proc.child.kill("SIGTERM");
  const event = await deadline(closed, "the client's close", 10_000);
  assert.equal(event.code, 1001);
  const status = await proc.end();
  assert.deepEqual(proc.lines, [{ connection: 1001 }, { server: "terminate" }]);
  assert.equal(status.code, 0, proc.stderr.join("\n"));
});

Deno.test("signals: a wrong value throws a TypeError naming the option", () => {
  for (const bad of ["SIGTERM", ["term"], [1], {}]) {
    assert.throws(
      () =>
        new WebSocketServer({ onConnection: () => null }, {
          signals: bad as never,
        }),
      { name: "TypeError", message: /options\.signals/ },
    );
  }
});

Deno.test("signals: a port that cannot be taken throws and leaves no signal listener behind", () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  assert.throws(
    () =>
      new WebSocketServer({ onConnection: () => null }, {
        port: (taken.addr as Deno.NetAddr).port,
        hostname: "127.0.0.1",
        signals: true,
      }),
    Deno.errors.AddrInUse,
  );
  // The resource sanitizer fails this test if a listener was left.
});

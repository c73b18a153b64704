/**
 * Shutting a server down: 4D's `terminate(timeout)` in seconds (`0` cuts at
 * once) against a peer that never answers a close, on a fake clock that
 * says the millisecond of the cut (a real socket all the same), and the `signals` option
 * in a subprocess, listening by itself and under `deno serve` (SPEC.md,
 * WebSocketServer; issue 11, points 5 and 8).
 *
 * @module
 */
import { assertEquals, assertMatch, assertThrows } from "@std/assert";
import { WebSocketServer } from "../mod.ts";
import { closeFrameOf, FakeClock, within } from "./_fake_clock.ts";
import { deadline } from "@std/async/deadline";
import { listen, Recorder } from "./_helpers.ts";
import { rawPeer } from "../testkit/raw_peer.ts";

/** A raw peer on `port`, open: it never answers a close. */
async function silentPeer(port: number, recorder: Recorder) {
  const peer = await rawPeer(port);
  assertMatch(peer.head, /^HTTP\/1\.1 101/);
  await recorder.opened();
  return peer;
}

Deno.test("WebSocketServer.terminate(0) on a fake clock: a silent peer is cut at once, onTerminate 1006, with no tick", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    closeTimeout: 60,
  });
  const { wss } = server;
  const peer = await silentPeer(server.port, recorder);
  {
    using time = new FakeClock();
    const start = time.now;
    const done = wss.terminate(0);
    // Cut in the call itself: no timer to wait for.
    assertEquals(recorder.types, ["open", "terminate"]);
    assertEquals(recorder.calls.at(-1)?.event.code, 1006);
    assertEquals(wss.connections, []);
    await within(done, "terminate(0)");
    assertEquals(time.now, start);
  }
  await peer.readToEnd();
  peer.conn.close();
});

Deno.test("WebSocketServer.terminate(2) on a fake clock: closes with 1001, nothing at 1.999 s, cuts a silent peer at 2 s", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    closeTimeout: 60,
  });
  const peer = await silentPeer(server.port, recorder);
  {
    using time = new FakeClock();
    const done = server.wss.terminate(2);
    assertEquals(await closeFrameOf(peer, time), [1001, "server terminated"]);
    await time.advance(1999);
    assertEquals(recorder.types, ["open"]);
    await time.advance(1);
    assertEquals(recorder.types, ["open", "terminate"]);
    assertEquals(recorder.calls.at(-1)?.event.code, 1006);
    await within(done, "terminate(2)");
  }
  await peer.readToEnd();
  peer.conn.close();
});

Deno.test("WebSocketServer.terminate() on a fake clock: waits closeTimeout (3 s), nothing at 2.999 s, cuts at 3 s", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    closeTimeout: 3,
  });
  const peer = await silentPeer(server.port, recorder);
  {
    using time = new FakeClock();
    const done = server.wss.terminate();
    assertEquals(await closeFrameOf(peer, time), [1001, "server terminated"]);
    await time.advance(2999);
    assertEquals(recorder.types, ["open"]);
    await time.advance(1);
    assertEquals(recorder.types, ["open", "terminate"]);
    assertEquals(recorder.calls.at(-1)?.event.code, 1006);
    await within(done, "terminate()");
  }
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
        ms,
      );
    },
    async end(): Promise<Deno.CommandStatus> {
      const status = await deadline(
        child.status,
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
    5000,
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
  const event = await deadline(closed, 10_000);
  assertEquals(event.code, 1001);
  const status = await proc.end();
  assertEquals(proc.lines.slice(1), [
    { connection: 1001 },
    { server: "terminate" },
  ]);
  assertEquals(status.code, 0, proc.stderr.join("\n"));
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
  const event = await deadline(closed, 10_000);
  assertEquals(event.code, 1001);
  const status = await proc.end();
  assertEquals(proc.lines, [{ connection: 1001 }, { server: "terminate" }]);
  assertEquals(status.code, 0, proc.stderr.join("\n"));
});

Deno.test("signals: a wrong value throws a TypeError naming the option", () => {
  for (const bad of ["SIGTERM", ["term"], [1], {}]) {
    assertThrows(
      () =>
        new WebSocketServer({ onConnection: () => null }, {
          signals: bad as never,
        }),
      TypeError,
      "options.signals",
    );
  }
});

Deno.test("signals: a port that cannot be taken throws and leaves no signal listener behind", () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  assertThrows(
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

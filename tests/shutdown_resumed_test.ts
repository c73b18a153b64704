/**
 * SIGTERM to a process whose server (`signals: true`, `resume`) holds a
 * resumed session and a waiting one (issue 22, "Shutdown"): the process ends
 * within `closeTimeout` and no connection tried after the signal is accepted
 * and then dropped. A real child process, real sockets, the TCP relay of
 * testkit/relay.ts for the cuts.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { WebSocket } from "../mod.ts";
import { LineChild } from "../testkit/line_child.ts";
import { rawPeer } from "../testkit/raw_peer.ts";
import { Relay } from "../testkit/relay.ts";
import { ClientRecorder } from "./_helpers.ts";

const FIXTURE = new URL("./fixtures/signals_server.ts", import.meta.url)
  .pathname;
/** The fixture's `closeTimeout`, in milliseconds. */
const CLOSE_TIMEOUT = 1000;
const RECONNECT = { delay: 0, jitter: 0 } as const;

/**
 * An upgrade tried on `port`: `"refused"` when the TCP connection is, else
 * the head of the answer ("" when the connection ends without one).
 */
async function tryUpgrade(port: number): Promise<string> {
  let peer;
  try {
    peer = await rawPeer(port);
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return "refused";
    throw error;
  }
  peer.conn.close();
  return peer.head;
}

Deno.test("signals: SIGTERM with a resumed and a waiting session ends the process within closeTimeout; a connection after it is refused, not dropped", async () => {
  const child = new LineChild([
    "run",
    "--allow-net",
    FIXTURE,
    "listen",
    "resume",
  ]);
  const relays: Relay[] = [];
  const clients: WebSocket[] = [];
  try {
    const port = JSON.parse(await child.line(/"port"/)).port as number;
    const [toResumed, toWaiting] = [0, 1].map(() => {
      const relay = new Relay({ hostname: "127.0.0.1", port });
      relays.push(relay);
      return relay;
    }) as [Relay, Relay];

    // Resumed: cut once, back on the same session.
    const resumed = new ClientRecorder({ reconnect: RECONNECT });
    clients.push(new WebSocket(toResumed.url("/"), resumed));
    // Its first message: the session can be resumed from here.
    await resumed.received(1);
    toResumed.cut();
    const again = await resumed.when(
      (call) => call.name === "onOpen" && call.event.reconnected === true,
      "the resumed open",
    );
    assertEquals(again.event.resumed, true);

    // Waiting: cut, and its client cannot come back.
    const waiting = new ClientRecorder({ reconnect: RECONNECT });
    clients.push(new WebSocket(toWaiting.url("/"), waiting));
    await waiting.received(1);
    toWaiting.refuse();
    toWaiting.cut();
    await waiting.when((call) => call.name === "onReconnecting", "the break");

    const start = performance.now();
    child.kill("SIGTERM");
    // A session's onTerminate (the waiting one's comes in the signal's own
    // task): the server is shutting down. A connection now gets 503 (the
    // listener waits for the close handshakes) or is refused.
    await child.line(/"connection":1001/);
    const answer = await tryUpgrade(port);
    assert(
      answer === "refused" ||
        /^HTTP\/1\.1 503 [^]*\r\nretry-after: 1\r\n/i.test(answer),
      `a connection after the signal got "${answer}"`,
    );
    // A failure guard, not a measure: Deno 2.9.6 alone keeps the process
    // 15 s after such a cut (the ping timer of the broken socket).
    const status = await deadline(child.status, 3 * CLOSE_TIMEOUT);
    const took = performance.now() - start;
    assertEquals(status.code, 0);
    assert(took < 3 * CLOSE_TIMEOUT, `exited after ${took} ms`);
    await child.output();
    assertEquals(child.lines.at(-1), JSON.stringify({ server: "terminate" }));
    assertMatch(child.lines.join("\n"), /"connection":1001/);
  } finally {
    child.kill("SIGKILL");
    for (const client of clients) {
      if (client.status !== "Closed") client.terminate();
    }
    await Promise.all(relays.map((relay) => relay.close()));
    await child.status;
  }
});

/**
 * A resume relayed to the instance that owns its session, which does not
 * resume it: the request goes on as a fresh connection (the limits,
 * `onConnection` and its answer), or gets the terminated answer where the
 * server terminated while it waited for the owner. A backplane of this
 * process stands for the cluster; requests go to `wss.fetch` directly.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { assertSpyCalls, spy } from "@std/testing/mock";
import { type Backplane, WebSocketServer } from "../mod.ts";
import { RESUME_PROTOCOL } from "../_resume_handshake.ts";
import { upgradeHeaders } from "../testkit/frames.ts";

/** The instance the offered token names: alive, never this one. */
const OWNER = "OwnerAAA";

/** A backplane whose `sendTo` is `sendTo`, every other instance alive. */
function clusterOf(sendTo: (to: string) => boolean): Backplane {
  return {
    instance: "SelfAAAA",
    start() {},
    publish() {},
    close: () => Promise.resolve(),
    sendTo,
    alive: () => true,
  };
}

/** An upgrade request that offers to resume a session of {@linkcode OWNER}. */
function resumeRequest(): Request {
  const token = `${OWNER}${"x".repeat(36)}`;
  return new Request("http://localhost/", {
    headers: upgradeHeaders({
      "sec-websocket-protocol":
        `${RESUME_PROTOCOL}, ${RESUME_PROTOCOL}.${token}.0`,
    }),
  });
}

Deno.test("a relayed resume its owner does not take goes on as a fresh connection: onConnection answers it", async () => {
  const sent = spy((_to: string) => false); // as a backplane that is down
  const onConnection = spy(() => new Response(null, { status: 409 }));
  await using wss = new WebSocketServer({ onConnection }, {
    resume: true,
    backplane: clusterOf(sent),
  });
  const response = await wss.fetch(resumeRequest());
  await response.body?.cancel();
  assertEquals(response.status, 409);
  assertEquals(sent.calls.map((call) => call.args[0]), [OWNER]);
  assertSpyCalls(onConnection, 1);
  assertEquals(wss.stats.refused, { 409: 1 });
});

Deno.test("a relayed resume whose wait for the owner ends with terminate() gets the terminated answer, not onConnection", async () => {
  const asked = Promise.withResolvers<void>();
  const onConnection = spy(() => new Response(null, { status: 409 }));
  const wss = new WebSocketServer({ onConnection }, {
    resume: true,
    backplane: clusterOf(() => {
      asked.resolve();
      return true; // sent: the owner's answer never comes
    }),
  });
  const answer = wss.fetch(resumeRequest());
  await asked.promise;
  const terminated = wss.terminate();
  const response = await answer;
  assertEquals(response.status, 503);
  assertEquals(await response.text(), "Server terminated");
  assertEquals(response.headers.get("retry-after"), "1");
  assertSpyCalls(onConnection, 0);
  await terminated;
});

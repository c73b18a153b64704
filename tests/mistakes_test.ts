/**
 * Mistakes caught where they are made (issue #24): a duration past its
 * maximum is taken for milliseconds given by mistake, a `RangeError` that
 * says the unit is seconds; a handler key that differs from a callback's
 * name only by case is a `TypeError` naming the right one (server handler,
 * connection handler, client handler).
 *
 * @module
 */
import { assertEquals, assertMatch, assertThrows } from "@std/assert";
import {
  ErrorCode,
  WebSocket,
  WebSocketServer,
  type WSServerErrorEvent,
} from "../mod.ts";
import { deadline } from "@std/async";
import { listen } from "./_helpers.ts";
import { rawRequest, readHead, upgradeHead } from "../testkit/raw_peer.ts";

const SERVER = "Cannot create WebSocketServer";

/** Each server duration: just past its maximum, and the maximum itself. */
const SERVER_MAXIMUMS = [
  ["idleTimeout", { idleTimeout: 3_601 }, { idleTimeout: 3_600 }, "an hour"],
  [
    "closeTimeout",
    { closeTimeout: 301 },
    { closeTimeout: 300 },
    "five minutes",
  ],
  [
    "resume.window",
    { resume: { window: 3_601 } },
    { resume: { window: 3_600 } },
    "an hour",
  ],
  [
    "rateLimit.per",
    { rateLimit: { messages: 1, per: 3_601 } },
    { rateLimit: { messages: 1, per: 3_600 } },
    "an hour",
  ],
] as const;

Deno.test("a server duration past its maximum is a RangeError that says the unit is seconds; the maximum itself is accepted", async () => {
  for (const [name, over, at, words] of SERVER_MAXIMUMS) {
    const error = assertThrows(
      () => new WebSocketServer({ onConnection: () => null }, over),
      RangeError,
    );
    const max = name === "closeTimeout" ? 300 : 3_600;
    assertEquals(
      error.message,
      `${SERVER}: options.${name} is in seconds and must be a number of at least ${
        name === "rateLimit.per" ? 0.001 : 0
      } and at most ${max} (${words}), current value is ${
        max + 1
      } (the unit is seconds, not milliseconds)`,
    );
    await new WebSocketServer({ onConnection: () => null }, at).terminate(0);
  }
});

Deno.test("the issue's milliseconds: idleTimeout 30000, closeTimeout 5000, resume window 60000 are RangeErrors", () => {
  for (
    const options of [
      { idleTimeout: 30_000 },
      { closeTimeout: 5_000 },
      { resume: { window: 60_000 } },
    ]
  ) {
    assertThrows(
      () => new WebSocketServer({ onConnection: () => null }, options),
      RangeError,
      "(the unit is seconds, not milliseconds)",
    );
  }
});

Deno.test("terminate(timeout) past five minutes is a RangeError and terminates nothing", async () => {
  const wss = new WebSocketServer({ onConnection: () => null });
  assertThrows(
    () => wss.terminate(5_000),
    RangeError,
    "Cannot terminate WebSocketServer: timeout is in seconds and must be a number of at least 0 and at most 300 (five minutes), current value is 5000 (the unit is seconds, not milliseconds)",
  );
  assertEquals(wss.terminated, false);
  await wss.terminate(300 / 1e9);
  assertEquals(wss.terminated, true);
});

Deno.test("the client's reconnect delays past their maximum are RangeErrors, before any connection", () => {
  assertThrows(
    () =>
      new WebSocket("ws://127.0.0.1:9", {
        reconnect: { delay: 500, maxDelay: 1000 },
      }),
    RangeError,
    "Cannot create WebSocket: handler.reconnect.delay is in seconds and must be a number of at least 0 and at most 60 (a minute), current value is 500 (the unit is seconds, not milliseconds)",
  );
  assertThrows(
    () =>
      new WebSocket("ws://127.0.0.1:9", { reconnect: { maxDelay: 30_000 } }),
    RangeError,
    "Cannot create WebSocket: handler.reconnect.maxDelay is in seconds and must be a number of at least 0.5 and at most 3600 (an hour), current value is 30000 (the unit is seconds, not milliseconds)",
  );
});

Deno.test("a server handler key in the wrong case is a TypeError naming the right one", () => {
  assertThrows(
    // @ts-expect-error: a miscased callback does not type-check either
    () => new WebSocketServer({ onconnection: () => null }),
    TypeError,
    `${SERVER}: handler.onconnection is not a callback or setting, names are case-sensitive: did you mean handler.onConnection?`,
  );
  assertThrows(
    () =>
      new WebSocketServer({
        onConnection: () => null,
        // @ts-expect-error: a miscased callback does not type-check either
        OnError() {},
      }),
    TypeError,
    "did you mean handler.onError?",
  );
  class Lobby {
    onConnection() {
      return null;
    }
    onterminate() {}
  }
  assertThrows(
    // @ts-expect-error: a class's miscased method does not type-check either
    () => new WebSocketServer(new Lobby()),
    TypeError,
    "handler.onterminate is not a callback or setting, names are case-sensitive: did you mean handler.onTerminate?",
  );
});

Deno.test("a client handler key in the wrong case (the DOM's onmessage) is a TypeError naming the right one", () => {
  assertThrows(
    // @ts-expect-error: a miscased callback does not type-check either
    () => new WebSocket("ws://127.0.0.1:9", { onmessage() {} }),
    TypeError,
    "Cannot create WebSocket: handler.onmessage is not a callback or setting, names are case-sensitive: did you mean handler.onMessage?",
  );
  assertThrows(
    // @ts-expect-error: nor a miscased setting
    () => new WebSocket("ws://127.0.0.1:9", { datatype: "object" }),
    TypeError,
    "did you mean handler.dataType?",
  );
  class Listener {
    onClose() {}
    OnOpen() {}
  }
  assertThrows(
    // @ts-expect-error: a class's miscased method does not type-check either
    () => new WebSocket("ws://127.0.0.1:9", new Listener()),
    TypeError,
    "did you mean handler.onOpen?",
  );
});

Deno.test("a connection handler key in the wrong case: the upgrade is refused 403 and onError says the right name", async () => {
  const reported = Promise.withResolvers<WSServerErrorEvent>();
  await using server = listen({
    onConnection: () => ({ onMessage() {}, onterminate() {} }),
    onError: (_wss, event) => reported.resolve(event),
  });
  const conn = await rawRequest(server.port, upgradeHead(server.port));
  try {
    const head = await readHead(conn);
    assertMatch(head, /^HTTP\/1\.1 403/);
  } finally {
    conn.close();
  }
  const event = await deadline(reported.promise, 5000);
  assertEquals(event.statusText, "invalid connection handler");
  const [error] = event.errors;
  assertEquals(error?.errCode, ErrorCode.InvalidHandler);
  assertEquals(
    error?.message,
    "Cannot accept connection: handler.onterminate is not a callback or setting, names are case-sensitive: did you mean handler.onTerminate?",
  );
  assertEquals(error?.cause instanceof TypeError, true);
  assertEquals(server.wss.stats.refused, { "403": 1 });
});

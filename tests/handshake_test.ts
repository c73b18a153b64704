/**
 * `_handshake.ts` and `_upgrade_request.ts`, without a socket: the checks
 * Deno does not make, the request as `onConnection` sees it, the path's
 * parameters and the subprotocol choice.
 *
 * @module
 */
import { assertEquals, assertStrictEquals } from "@std/assert";
import { checkHandshake, chooseProtocol, matchPath } from "../_handshake.ts";
import { UpgradeRequest } from "../_upgrade_request.ts";

const VALID = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};

Deno.test("checkHandshake() passes a valid upgrade and answers the rest", async () => {
  assertEquals(checkHandshake(new Headers(VALID)), undefined);
  const cases: [Record<string, string>, number, Record<string, string>][] = [
    [{ ...VALID, upgrade: "" }, 426, { upgrade: "websocket" }],
    [{ ...VALID, "sec-websocket-key": "short" }, 400, {}],
    [{ ...VALID, "sec-websocket-key": "" }, 400, {}],
    [{ ...VALID, "sec-websocket-version": "" }, 400, {}],
    [{ ...VALID, "sec-websocket-version": "8" }, 426, {
      "sec-websocket-version": "13",
    }],
  ];
  for (const [raw, status, headers] of cases) {
    const given = new Headers();
    for (const [name, value] of Object.entries(raw)) {
      if (value !== "") given.set(name, value);
    }
    const answer = checkHandshake(given);
    assertEquals(answer?.status, status, JSON.stringify(raw));
    for (const [name, value] of Object.entries(headers)) {
      assertEquals(answer?.headers.get(name), value);
    }
    await answer?.body?.cancel();
  }
});

Deno.test("matchPath() gives the groups, {} without a pattern, null when it does not match", () => {
  const pattern = new URLPattern({ pathname: "/rooms/:room" });
  assertEquals(matchPath(pattern, "http://x/rooms/42"), { room: "42" });
  assertEquals(matchPath(pattern, "http://x/elsewhere"), null);
  assertEquals(matchPath(undefined, "http://x/any"), {});
  const proto = matchPath(
    new URLPattern({ pathname: "/:__proto__" }),
    "http://x/polluted",
  );
  assertEquals(Object.hasOwn(proto ?? {}, "__proto__"), true);
  assertEquals(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("UpgradeRequest reads headers, query, url and address, shown as a plain object", () => {
  const headers = new Headers({ "X-Name": "a" });
  headers.append("x-name", "b");
  headers.append("set-cookie", "1");
  headers.append("set-cookie", "2");
  const request = new Request("http://host/path?q=1&q=2&one=x", { headers });
  const snapshot = new UpgradeRequest(
    request,
    { transport: "tcp", hostname: "10.0.0.1", port: 5 },
    { room: "r" },
  );
  const plain = {
    // In Deno's order: sorted by name.
    headers: { "set-cookie": "1, 2", "x-name": "a, b" },
    query: { q: ["1", "2"], one: "x" },
    url: "/path?q=1&q=2&one=x",
    remoteAddress: "10.0.0.1",
    params: { room: "r" },
  };
  assertEquals(snapshot.toJSON(), plain);
  assertEquals(JSON.parse(JSON.stringify(snapshot)), plain);
  assertEquals(Deno.inspect(snapshot), Deno.inspect(plain));
  // Made once: the same objects when read again.
  assertStrictEquals(snapshot.headers, snapshot.headers);
  assertStrictEquals(snapshot.query, snapshot.query);
  const bare = new UpgradeRequest(request, undefined, null);
  assertEquals(bare.remoteAddress, "");
  assertEquals(bare.params, {});
});

Deno.test("chooseProtocol() takes the server's first choice among the offers, with or without spaces", () => {
  assertEquals(chooseProtocol("b, a", ["a", "b"]), "a");
  assertEquals(chooseProtocol("b,a", ["a", "b"]), "a");
  assertEquals(chooseProtocol("c", ["a", "b"]), "");
  assertEquals(chooseProtocol(null, ["a"]), "");
  assertEquals(chooseProtocol("a", []), "");
});

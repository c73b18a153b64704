/**
 * `_checks.ts` and `_options.ts`: every argument check names the argument
 * and its value, with the right class; defaults come from one table.
 *
 * @module
 */
import { assertEquals, assertMatch, assertThrows } from "@std/assert";
import {
  checkCloseCode,
  checkDataType,
  checkHeaders,
  checkNumber,
  checkReason,
  checkUrl,
  describe,
} from "../_checks.ts";
import {
  DEFAULTS,
  resolveClientSettings,
  resolveServerOptions,
} from "../_options.ts";

const ACTION = "Cannot do it";

Deno.test("checkDataType() accepts the three names and names a wrong one", () => {
  for (const name of ["text", "blob", "object"]) {
    assertEquals(checkDataType(name, "options.dataType", ACTION), name);
  }
  const error = assertThrows(
    () => checkDataType("json", "options.dataType", ACTION),
    TypeError,
  );
  assertMatch(
    error.message,
    /^Cannot do it: options\.dataType must be .*current value is "json"$/,
  );
});

Deno.test("describe() renders values safely", () => {
  assertEquals(describe("a"), '"a"');
  assertEquals(describe(() => {}), "a function");
  assertEquals(describe(Symbol()), "a symbol");
  assertEquals(describe(3n), "3n");
  assertEquals(describe(null), "null");
  assertEquals(describe([]), "an array");
  assertEquals(describe({}), "an object");
});

Deno.test("checkReason() limits a close reason to 123 bytes", () => {
  assertEquals(checkReason(undefined, "reason", "Cannot close"), "");
  assertEquals(
    checkReason("x".repeat(123), "reason", "Cannot close"),
    "x".repeat(123),
  );
  const error = assertThrows(
    () => checkReason("é".repeat(62), "reason", "Cannot close"),
    RangeError,
  );
  assertMatch(error.message, /^Cannot close: reason .*current size is 124/);
  assertThrows(
    () => checkReason(5, "reason", "Cannot close"),
    TypeError,
    "current value is 5",
  );
});

Deno.test("checkNumber() follows its rule: TypeError for a non-number, RangeError out of range", () => {
  const rule = { min: 1, max: 10, integer: true };
  assertEquals(checkNumber(5, "n", ACTION, rule), 5);
  assertThrows(
    () => checkNumber("5", "n", ACTION, rule),
    TypeError,
    'Cannot do it: n must be a number, current value is "5"',
  );
  for (const bad of [0, 11, 1.5, NaN, Infinity]) {
    assertThrows(
      () => checkNumber(bad, "n", ACTION, rule),
      RangeError,
      `Cannot do it: n must be an integer of at least 1 and at most 10, current value is ${bad}`,
    );
  }
  assertEquals(
    checkNumber(Infinity, "n", ACTION, { min: 0, infinite: true }),
    Infinity,
  );
});

Deno.test("checkCloseCode() is 1000 or 3000-4999 for a client, any integer for a connection", () => {
  assertEquals(checkCloseCode(undefined, ACTION, true), undefined);
  for (const code of [1000, 3000, 4999]) {
    assertEquals(checkCloseCode(code, ACTION, true), code);
  }
  for (const code of [999, 1001, 2999, 5000, 3000.5]) {
    assertThrows(
      () => checkCloseCode(code, ACTION, true),
      RangeError,
      `Cannot do it: code must be 1000 or 3000-4999, current value is ${code}`,
    );
  }
  assertEquals(checkCloseCode(1001, ACTION, false), 1001);
  assertThrows(() => checkCloseCode(1.5, ACTION, false), RangeError);
  assertThrows(() => checkCloseCode("1000", ACTION, false), TypeError);
});

Deno.test("checkUrl() takes ws:// and wss:// only, without a fragment", () => {
  assertEquals(checkUrl("ws://a/", ACTION), "ws://a/");
  assertEquals(checkUrl("wss://a:1/x?y", ACTION), "wss://a:1/x?y");
  for (const bad of ["http://a/", "nope", "ws://a/#f"]) {
    assertThrows(() => checkUrl(bad, ACTION), SyntaxError, undefined, bad);
  }
  assertThrows(() => checkUrl(42, ACTION), TypeError);
});

Deno.test("checkHeaders() makes pairs, an array for a repeated name", () => {
  assertEquals(
    checkHeaders({ a: "1", b: ["2", "3"] }, "handler.headers", ACTION),
    [["a", "1"], ["b", "2"], ["b", "3"]],
  );
  assertEquals(checkHeaders({}, "handler.headers", ACTION), undefined);
  assertThrows(
    () => checkHeaders({ a: 1 }, "handler.headers", ACTION),
    TypeError,
    'handler.headers["a"]',
  );
});

Deno.test("resolveServerOptions() applies every default from DEFAULTS", () => {
  const resolved = resolveServerOptions(undefined);
  for (const [name, value] of Object.entries(DEFAULTS.server)) {
    assertEquals(resolved[name as keyof typeof resolved], value, name);
  }
  assertEquals(resolved.signals, []);
  assertEquals(resolveServerOptions({ signals: true }).signals, [
    "SIGINT",
    "SIGTERM",
  ]);
  assertThrows(
    () => resolveServerOptions([]),
    TypeError,
    "options must be an object",
  );
});

Deno.test("resolveClientSettings() applies the client's defaults and names a wrong setting", () => {
  assertEquals(resolveClientSettings(undefined), {
    dataType: "text",
    headers: undefined,
    protocols: [],
    maxQueued: 1000,
    reconnect: null,
    resume: undefined,
  });
  assertThrows(
    () => resolveClientSettings({ resume: "yes" }),
    TypeError,
    "handler.resume must be true or false",
  );
  const error = assertThrows(
    () => resolveClientSettings({ maxQueued: 1.5 }),
    RangeError,
  );
  assertMatch(
    error.message,
    /^Cannot create WebSocket: handler\.maxQueued must be an integer/,
  );
  assertThrows(
    () => resolveClientSettings({ protocols: [1] }),
    TypeError,
    "handler.protocols",
  );
});

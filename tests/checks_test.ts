/**
 * `_checks.ts` and `_options.ts`: every argument check names the argument
 * and its value, with the right class; defaults come from one table.
 *
 * @module
 */
import assert from "node:assert/strict";
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
    assert.equal(checkDataType(name, "options.dataType", ACTION), name);
  }
  assert.throws(() => checkDataType("json", "options.dataType", ACTION), {
    name: "TypeError",
    message:
      /^Cannot do it: options\.dataType must be .*current value is "json"$/,
  });
});

Deno.test("describe() renders values safely", () => {
  assert.equal(describe("a"), '"a"');
  assert.equal(describe(() => {}), "a function");
  assert.equal(describe(Symbol()), "a symbol");
  assert.equal(describe(3n), "3n");
  assert.equal(describe(null), "null");
  assert.equal(describe([]), "an array");
  assert.equal(describe({}), "an object");
});

Deno.test("checkReason() limits a close reason to 123 bytes", () => {
  assert.equal(checkReason(undefined, "reason", "Cannot close"), "");
  assert.equal(
    checkReason("x".repeat(123), "reason", "Cannot close"),
    "x".repeat(123),
  );
  assert.throws(() => checkReason("é".repeat(62), "reason", "Cannot close"), {
    name: "RangeError",
    message: /^Cannot close: reason .*current size is 124/,
  });
  assert.throws(() => checkReason(5, "reason", "Cannot close"), {
    name: "TypeError",
    message: /current value is 5/,
  });
});

Deno.test("checkNumber() follows its rule: TypeError for a non-number, RangeError out of range", () => {
  const rule = { min: 1, max: 10, integer: true };
  assert.equal(checkNumber(5, "n", ACTION, rule), 5);
  assert.throws(() => checkNumber("5", "n", ACTION, rule), {
    name: "TypeError",
    message: 'Cannot do it: n must be a number, current value is "5"',
  });
  for (const bad of [0, 11, 1.5, NaN, Infinity]) {
    assert.throws(() => checkNumber(bad, "n", ACTION, rule), {
      name: "RangeError",
      message:
        `Cannot do it: n must be an integer of at least 1 and at most 10, current value is ${bad}`,
    });
  }
  assert.equal(
    checkNumber(Infinity, "n", ACTION, { min: 0, infinite: true }),
    Infinity,
  );
});

Deno.test("checkCloseCode() is 1000 or 3000-4999 for a client, any integer for a connection", () => {
  assert.equal(checkCloseCode(undefined, ACTION, true), undefined);
  for (const code of [1000, 3000, 4999]) {
    assert.equal(checkCloseCode(code, ACTION, true), code);
  }
  for (const code of [999, 1001, 2999, 5000, 3000.5]) {
    assert.throws(() => checkCloseCode(code, ACTION, true), {
      name: "RangeError",
      message:
        `Cannot do it: code must be 1000 or 3000-4999, current value is ${code}`,
    });
  }
  assert.equal(checkCloseCode(1001, ACTION, false), 1001);
  assert.throws(() => checkCloseCode(1.5, ACTION, false), RangeError);
  assert.throws(() => checkCloseCode("1000", ACTION, false), TypeError);
});

Deno.test("checkUrl() takes ws:// and wss:// only, without a fragment", () => {
  assert.equal(checkUrl("ws://a/", ACTION), "ws://a/");
  assert.equal(checkUrl("wss://a:1/x?y", ACTION), "wss://a:1/x?y");
  for (const bad of ["http://a/", "nope", "ws://a/#f"]) {
    assert.throws(() => checkUrl(bad, ACTION), SyntaxError, bad);
  }
  assert.throws(() => checkUrl(42, ACTION), TypeError);
});

Deno.test("checkHeaders() makes pairs, an array for a repeated name", () => {
  assert.deepEqual(
    checkHeaders({ a: "1", b: ["2", "3"] }, "handler.headers", ACTION),
    [["a", "1"], ["b", "2"], ["b", "3"]],
  );
  assert.equal(checkHeaders({}, "handler.headers", ACTION), undefined);
  assert.throws(() => checkHeaders({ a: 1 }, "handler.headers", ACTION), {
    name: "TypeError",
    message: /handler\.headers\["a"\]/,
  });
});

Deno.test("resolveServerOptions() applies every default from DEFAULTS", () => {
  const resolved = resolveServerOptions(undefined);
  for (const [name, value] of Object.entries(DEFAULTS.server)) {
    assert.equal(resolved[name as keyof typeof resolved], value, name);
  }
  assert.deepEqual(resolved.signals, []);
  assert.deepEqual(resolveServerOptions({ signals: true }).signals, [
    "SIGINT",
    "SIGTERM",
  ]);
  assert.throws(() => resolveServerOptions([]), {
    name: "TypeError",
    message: /options must be an object/,
  });
});

Deno.test("resolveClientSettings() applies the client's defaults and names a wrong setting", () => {
  assert.deepEqual(resolveClientSettings(undefined), {
    dataType: "text",
    headers: undefined,
    protocols: [],
    maxQueued: 1000,
    reconnect: null,
    resume: undefined,
  });
  assert.throws(() => resolveClientSettings({ resume: "yes" }), {
    name: "TypeError",
    message: /handler\.resume must be true or false/,
  });
  assert.throws(() => resolveClientSettings({ maxQueued: 1.5 }), {
    name: "RangeError",
    message: /^Cannot create WebSocket: handler\.maxQueued must be an integer/,
  });
  assert.throws(() => resolveClientSettings({ protocols: [1] }), {
    name: "TypeError",
    message: /handler\.protocols/,
  });
});

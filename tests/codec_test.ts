import assert from "node:assert/strict";
import { decode, encode } from "../_codec.ts";
import { ErrorCode, Ws4dError } from "../_errors.ts";

const bytes = (text: string) => new TextEncoder().encode(text).buffer;

Deno.test("decode() converts both frame types for each dataType", () => {
  const max = 1024;
  assert.equal(decode("hé", "text", max), "hé");
  assert.equal(decode(bytes("hé"), "text", max), "hé");
  assert.deepEqual(decode("hé", "blob", max), new Uint8Array(bytes("hé")));
  assert.deepEqual(
    decode(bytes("hé"), "blob", max),
    new Uint8Array(bytes("hé")),
  );
  assert.deepEqual(decode('{"a":[1]}', "object", max), { a: [1] });
  assert.deepEqual(decode(bytes('{"a":[1]}'), "object", max), { a: [1] });
});

Deno.test("decode() returns, not throws, the error for bad UTF-8, bad JSON and oversize frames", () => {
  const bad = new Uint8Array([0xff, 0xfe]).buffer;
  /** The error code of a returned error; fails for anything else. */
  const errCodeOf = (result: unknown): number => {
    assert.ok(result instanceof Ws4dError, `an error, got ${String(result)}`);
    return result.errCode;
  };
  assert.equal(errCodeOf(decode(bad, "text", 10)), ErrorCode.InvalidUTF8);
  assert.equal(errCodeOf(decode("{", "object", 10)), ErrorCode.InvalidJSON);
  assert.equal(
    errCodeOf(decode(bytes("{"), "object", 10)),
    ErrorCode.InvalidJSON,
  );
  assert.equal(
    errCodeOf(decode("x".repeat(11), "text", 10)),
    ErrorCode.MessageTooLarge,
  );
  assert.equal(
    errCodeOf(decode("é".repeat(6), "text", 10)),
    ErrorCode.MessageTooLarge,
    "12 bytes of UTF-8 in 6 units",
  );
  assert.equal(decode("é".repeat(5), "text", 10), "é".repeat(5));
  assert.equal(
    errCodeOf(decode(new ArrayBuffer(11), "blob", 10)),
    ErrorCode.MessageTooLarge,
  );
  assert.deepEqual(decode(bad, "blob", 10), new Uint8Array([0xff, 0xfe]));
  // Valid JSON is never mistaken for an error.
  assert.deepEqual(decode('{"errCode":9}', "object", 10 ** 3), { errCode: 9 });
});

Deno.test("encode() chooses the frame by type", () => {
  const buffer = new ArrayBuffer(2);
  const view = new Uint8Array(3);
  const blob = new Blob(["x"]);
  assert.equal(encode("s"), "s");
  assert.equal(encode(buffer), buffer);
  assert.equal(encode(view), view);
  assert.equal(encode(blob), blob);
  assert.equal(encode({ a: 1 }), '{"a":1}');
  assert.equal(encode([1, "b"]), '[1,"b"]');
  assert.equal(encode(42), "42");
  assert.equal(encode(null), "null");
  assert.equal(encode(true), "true");
});

Deno.test("encode() throws TypeError for what cannot be sent", () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  for (
    const value of [undefined, () => {}, Symbol("s"), 1n, circular, { n: 1n }]
  ) {
    assert.throws(() => encode(value), {
      name: "TypeError",
      message: /^Cannot send message: /,
    }, String(typeof value));
  }
});

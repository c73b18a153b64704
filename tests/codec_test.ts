import {
  assert,
  assertEquals,
  assertMatch,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { decode, encode } from "../_codec.ts";
import { ErrorCode, Ws4dError } from "../_errors.ts";

const bytes = (text: string) => new TextEncoder().encode(text).buffer;

Deno.test("decode() converts both frame types for each dataType", () => {
  const max = 1024;
  assertEquals(decode("hé", "text", max), "hé");
  assertEquals(decode(bytes("hé"), "text", max), "hé");
  assertEquals(decode("hé", "blob", max), new Uint8Array(bytes("hé")));
  assertEquals(
    decode(bytes("hé"), "blob", max),
    new Uint8Array(bytes("hé")),
  );
  assertEquals(decode('{"a":[1]}', "object", max), { a: [1] });
  assertEquals(decode(bytes('{"a":[1]}'), "object", max), { a: [1] });
});

Deno.test("decode() returns, not throws, the error for bad UTF-8, bad JSON and oversize frames", () => {
  const bad = new Uint8Array([0xff, 0xfe]).buffer;
  /** The error code of a returned error; fails for anything else. */
  const errCodeOf = (result: unknown): number => {
    assert(result instanceof Ws4dError, `an error, got ${String(result)}`);
    return result.errCode;
  };
  assertEquals(errCodeOf(decode(bad, "text", 10)), ErrorCode.InvalidUTF8);
  assertEquals(errCodeOf(decode("{", "object", 10)), ErrorCode.InvalidJSON);
  assertEquals(
    errCodeOf(decode(bytes("{"), "object", 10)),
    ErrorCode.InvalidJSON,
  );
  assertEquals(
    errCodeOf(decode("x".repeat(11), "text", 10)),
    ErrorCode.MessageTooLarge,
  );
  assertEquals(
    errCodeOf(decode("é".repeat(6), "text", 10)),
    ErrorCode.MessageTooLarge,
    "12 bytes of UTF-8 in 6 units",
  );
  assertEquals(decode("é".repeat(5), "text", 10), "é".repeat(5));
  assertEquals(
    errCodeOf(decode(new ArrayBuffer(11), "blob", 10)),
    ErrorCode.MessageTooLarge,
  );
  assertEquals(decode(bad, "blob", 10), new Uint8Array([0xff, 0xfe]));
  // Valid JSON is never mistaken for an error.
  assertEquals(decode('{"errCode":9}', "object", 10 ** 3), { errCode: 9 });
});

Deno.test("encode() chooses the frame by type", () => {
  const buffer = new ArrayBuffer(2);
  const view = new Uint8Array(3);
  const blob = new Blob(["x"]);
  assertEquals(encode("s"), "s");
  assertStrictEquals(encode(buffer), buffer);
  assertStrictEquals(encode(view), view);
  assertStrictEquals(encode(blob), blob);
  assertEquals(encode({ a: 1 }), '{"a":1}');
  assertEquals(encode([1, "b"]), '[1,"b"]');
  assertEquals(encode(42), "42");
  assertEquals(encode(null), "null");
  assertEquals(encode(true), "true");
});

Deno.test("encode() throws TypeError for what cannot be sent", () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  for (
    const value of [undefined, () => {}, Symbol("s"), 1n, circular, { n: 1n }]
  ) {
    const error = assertThrows(
      () => encode(value),
      TypeError,
      undefined,
      String(typeof value),
    );
    assertMatch(error.message, /^Cannot send message: /, String(typeof value));
  }
});

Deno.test("decode() and encode() name the JSON error's own message", () => {
  const parsed = decode("{", "object", 10);
  assert(parsed instanceof Ws4dError);
  let syntax = "";
  try {
    JSON.parse("{");
  } catch (error) {
    if (error instanceof Error) syntax = error.message;
  }
  assertEquals(parsed.message, `Cannot parse message as JSON: ${syntax}`);
  const thrown = assertThrows(
    () =>
      encode({
        toJSON: () => {
          throw "no";
        },
      }),
    TypeError,
  );
  assertEquals(
    thrown.message,
    "Cannot send message: it cannot be serialised as JSON (Non-error thrown: no)",
  );
});

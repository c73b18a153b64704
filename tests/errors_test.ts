import { assertEquals, assertStrictEquals } from "@std/assert";
import {
  callbackFailed,
  ErrorCode,
  toError,
  Ws4dError,
  wsError,
} from "../_errors.ts";

Deno.test("ErrorCode values are distinct integers from 1", () => {
  const values = Object.values(ErrorCode);
  assertEquals(values, values.map((_, i) => i + 1));
  assertEquals(ErrorCode.CallbackFailed, 1);
});

Deno.test("Ws4dError carries its close code and reason", () => {
  const cases: [number, number, string][] = [
    [ErrorCode.CallbackFailed, 1011, "server error"],
    [ErrorCode.InvalidUTF8, 1007, "invalid UTF-8"],
    [ErrorCode.InvalidJSON, 1007, "invalid JSON"],
    [ErrorCode.MessageTooLarge, 1009, "message too large"],
    [ErrorCode.SlowConsumer, 1008, "slow consumer"],
    [ErrorCode.ProtocolError, 1002, "protocol error"],
  ];
  for (const [errCode, code, reason] of cases) {
    const error = new Ws4dError(errCode as 1, "m");
    assertEquals(error.closeCode, code, String(errCode));
    assertEquals(error.closeReason("server"), reason);
  }
  assertEquals(
    new Ws4dError(ErrorCode.CallbackFailed, "m").closeReason("client"),
    "client error",
  );
});

Deno.test("wsError() and toEntry() build onError entries", () => {
  assertEquals(wsError(ErrorCode.InvalidJSON, "m"), {
    errCode: 3,
    message: "m",
    componentSignature: "ws4d",
  });
  const cause = new Error("c");
  assertEquals(new Ws4dError(ErrorCode.InvalidUTF8, "m", cause).toEntry(), {
    errCode: 2,
    message: "m",
    componentSignature: "ws4d",
    cause,
  });
});

Deno.test("toError() and callbackFailed() wrap anything thrown", () => {
  const error = new Error("x");
  assertStrictEquals(toError(error), error);
  assertEquals(toError("boom").message, "Non-error thrown: boom");
  assertEquals(toError({ a: 1 }).message, 'Non-error thrown: {"a":1}');
  const failed = callbackFailed("onMessage", "boom");
  assertEquals(failed.errCode, ErrorCode.CallbackFailed);
  assertEquals(
    failed.message,
    "Callback onMessage failed: Non-error thrown: boom",
  );
});

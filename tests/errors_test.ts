import assert from "node:assert/strict";
import {
  callbackFailed,
  ErrorCode,
  toError,
  Ws4dError,
  wsError,
} from "../_errors.ts";

Deno.test("ErrorCode values are distinct integers from 1", () => {
  const values = Object.values(ErrorCode);
  assert.deepEqual(values, values.map((_, i) => i + 1));
  assert.equal(ErrorCode.CallbackFailed, 1);
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
    assert.equal(error.closeCode, code, String(errCode));
    assert.equal(error.closeReason("server"), reason);
  }
  assert.equal(
    new Ws4dError(ErrorCode.CallbackFailed, "m").closeReason("client"),
    "client error",
  );
});

Deno.test("wsError() and toEntry() build onError entries", () => {
  assert.deepEqual(wsError(ErrorCode.InvalidJSON, "m"), {
    errCode: 3,
    message: "m",
    componentSignature: "ws4d",
  });
  const cause = new Error("c");
  assert.deepEqual(new Ws4dError(ErrorCode.InvalidUTF8, "m", cause).toEntry(), {
    errCode: 2,
    message: "m",
    componentSignature: "ws4d",
    cause,
  });
});

Deno.test("toError() and callbackFailed() wrap anything thrown", () => {
  const error = new Error("x");
  assert.equal(toError(error), error);
  assert.equal(toError("boom").message, "Non-error thrown: boom");
  assert.equal(toError({ a: 1 }).message, 'Non-error thrown: {"a":1}');
  const failed = callbackFailed("onMessage", "boom");
  assert.equal(failed.errCode, ErrorCode.CallbackFailed);
  assert.equal(
    failed.message,
    "Callback onMessage failed: Non-error thrown: boom",
  );
});

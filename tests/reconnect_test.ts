import { assert, assertEquals, assertThrows } from "@std/assert";
import { Backoff, isRetried, resolveReconnect } from "../_reconnect.ts";
import { DEFAULTS } from "../_options.ts";

Deno.test("resolveReconnect() is off for undefined and false, the defaults for true", () => {
  assertEquals(resolveReconnect(undefined), null);
  assertEquals(resolveReconnect(false), null);
  const backoff = resolveReconnect(true);
  assert(backoff instanceof Backoff);
  assertEquals({ ...backoff }, { ...DEFAULTS.reconnect });
  assertEquals({ ...resolveReconnect({}) }, { ...DEFAULTS.reconnect });
});

Deno.test("resolveReconnect() keeps the fields given and defaults the others", () => {
  const backoff = resolveReconnect({ delay: 0, maxRetries: 2, jitter: 0 });
  assertEquals({ ...backoff }, {
    delay: 0,
    maxDelay: 10,
    factor: 2,
    jitter: 0,
    maxRetries: 2,
  });
  assertEquals(resolveReconnect({ maxDelay: undefined })?.maxDelay, 10);
  // Not given, maxDelay is 10, or delay when that is longer.
  assertEquals(resolveReconnect({ delay: 60 })?.maxDelay, 60);
  assertEquals(resolveReconnect({ delay: 60, maxDelay: 90 })?.maxDelay, 90);
});

Deno.test("resolveReconnect() throws TypeError for a value of another type", () => {
  for (
    const [value, shown] of [
      [1, "1"],
      ["yes", '"yes"'],
      [null, "null"],
      [[], "an array"],
      [() => {}, "a function"],
    ] as const
  ) {
    assertThrows(
      () => resolveReconnect(value),
      TypeError,
      `Cannot create WebSocket: handler.reconnect must be true or an object, current value is ${shown}`,
    );
  }
});

Deno.test("resolveReconnect() throws TypeError for an unknown field or a non-number", () => {
  assertThrows(
    () => resolveReconnect({ retries: 3 }),
    TypeError,
    "Cannot create WebSocket: handler.reconnect.retries is not an option",
  );
  assertThrows(
    () => resolveReconnect({ delay: "1" }),
    TypeError,
    'Cannot create WebSocket: handler.reconnect.delay must be a number, current value is "1"',
  );
  assertThrows(
    () => resolveReconnect({ maxRetries: null }),
    TypeError,
    "Cannot create WebSocket: handler.reconnect.maxRetries must be a number, current value is null",
  );
});

Deno.test("resolveReconnect() throws RangeError naming the field out of range", () => {
  const cases: [Record<string, number>, string][] = [
    [
      { delay: -1 },
      "delay is in seconds and must be a number of at least 0 and at most 60 (a minute), current value is -1",
    ],
    [
      { delay: Infinity },
      "delay is in seconds and must be a number of at least 0 and at most 60 (a minute), current value is Infinity",
    ],
    [
      { delay: NaN },
      "delay is in seconds and must be a number of at least 0 and at most 60 (a minute), current value is NaN",
    ],
    [
      { delay: 2, maxDelay: 1 },
      "maxDelay is in seconds and must be a number of at least 2 and at most 3600 (an hour), current value is 1",
    ],
    [
      { maxDelay: Infinity },
      "maxDelay is in seconds and must be a number of at least 0.5 and at most 3600 (an hour), current value is Infinity",
    ],
    [
      { factor: 0.5 },
      "factor must be a number of at least 1, current value is 0.5",
    ],
    [
      { jitter: 1.5 },
      "jitter must be a number of at least 0 and at most 1, current value is 1.5",
    ],
    [
      { jitter: -0.1 },
      "jitter must be a number of at least 0 and at most 1, current value is -0.1",
    ],
    [
      { maxRetries: 1.5 },
      "maxRetries must be an integer of at least 0, current value is 1.5",
    ],
    [
      { maxRetries: -1 },
      "maxRetries must be an integer of at least 0, current value is -1",
    ],
  ];
  for (const [options, message] of cases) {
    assertThrows(
      () => resolveReconnect(options),
      RangeError,
      `Cannot create WebSocket: handler.reconnect.${message}`,
      JSON.stringify(options),
    );
  }
  assertEquals(
    resolveReconnect({ maxRetries: Infinity })?.maxRetries,
    Infinity,
  );
  assertEquals(resolveReconnect({ maxRetries: 0 })?.maxRetries, 0);
});

Deno.test("Backoff.nextDelay() grows by factor up to maxDelay with jitter 0", () => {
  const backoff = new Backoff({
    delay: 0.1,
    maxDelay: 5,
    factor: 3,
    jitter: 0,
  });
  const delays = Array.from({ length: 8 }, (_, i) => backoff.nextDelay(i + 1));
  const expected = [0.1, 0.3, 0.9, 2.7, 5, 5, 5, 5];
  for (const [i, delay] of delays.entries()) {
    assert(
      Math.abs(delay - (expected[i] as number)) < 1e-9,
      `attempt ${i + 1}: ${delay}`,
    );
  }
  // The random source is not used when there is no jitter.
  assertEquals(backoff.nextDelay(2, () => 0.99), backoff.nextDelay(2));
});

Deno.test("Backoff.nextDelay() stays finite and capped however many attempts", () => {
  const backoff = new Backoff({ jitter: 0 });
  assertEquals(backoff.nextDelay(10_000), 10);
  assertEquals(backoff.nextDelay(Number.MAX_SAFE_INTEGER), 10);
  const still = new Backoff({ delay: 0, maxDelay: 0, jitter: 0.5 });
  assertEquals(still.nextDelay(1_000_000, () => 0.9), 0);
  const flat = new Backoff({ delay: 1, factor: 1, jitter: 0 });
  assertEquals(flat.nextDelay(50), 1);
});

Deno.test("Backoff.nextDelay() keeps the jitter within ± its fraction of the delay", () => {
  const backoff = new Backoff({
    delay: 1,
    maxDelay: 8,
    factor: 2,
    jitter: 0.25,
  });
  const bases = [1, 2, 4, 8, 8];
  for (const [i, base] of bases.entries()) {
    assertEquals(backoff.nextDelay(i + 1, () => 0), base * 0.75);
    assertEquals(backoff.nextDelay(i + 1, () => 0.5), base);
    const top = backoff.nextDelay(i + 1, () => 1 - Number.EPSILON);
    assert(top <= base * 1.25 && top > base * 1.2499, `${top}`);
  }
  // A seeded spread: every value within bounds, and both halves reached.
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const samples = Array.from(
    { length: 1000 },
    () => backoff.nextDelay(2, random),
  );
  assert(samples.every((delay) => delay >= 1.5 && delay <= 2.5));
  assert(samples.some((delay) => delay < 1.75));
  assert(samples.some((delay) => delay > 2.25));
});

Deno.test("isRetried() retries every case SPEC.md lists as retried", () => {
  for (const code of [1001, 1006, 1011, 1012, 1013, 1014]) {
    assertEquals(isRetried(code), true, `${code}`);
  }
  assertEquals(isRetried(0), true, "Deno's 0 for a break is 1006");
  assertEquals(isRetried(1015), true, "a failed TLS handshake");
  assertEquals(isRetried("failed"), true, "refused, DNS, TLS, no answer");
  for (const status of [500, 502, 503, 504, 599]) {
    assertEquals(isRetried("failed", status), true, `${status}`);
  }
});

Deno.test("isRetried() ends for every case SPEC.md lists as final", () => {
  for (const code of [1000, 1002, 1003, 1005, 1007, 1008, 1009, 1010]) {
    assertEquals(isRetried(code), false, `${code}`);
  }
  for (let code = 3000; code <= 4999; code++) {
    assertEquals(isRetried(code), false, `${code}`);
  }
  for (const status of [400, 401, 403, 404, 426, 429, 499]) {
    assertEquals(isRetried("failed", status), false, `${status}`);
  }
});

Deno.test("isRetried() classifies every code from 0 to 5999", () => {
  const retried = new Set([0, 1001, 1006, 1011, 1012, 1013, 1014, 1015]);
  for (let code = 0; code < 6000; code++) {
    assertEquals(isRetried(code), retried.has(code), `${code}`);
  }
});

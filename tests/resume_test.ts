import {
  assert,
  assertEquals,
  assertMatch,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import type { Encoded, Frame } from "../_codec.ts";
import { ErrorCode, Ws4dError } from "../_errors.ts";
import { sizeOf } from "../_codec.ts";
import { resolveResume, type ResumeLimits } from "../_resume_options.ts";
import { RESUME_DEFAULTS } from "../_resume.ts";
import {
  type ControlFrame,
  decodeControl,
  encodeAnswer,
  encodeControl,
  FrameType,
  type HelloFrame,
  MARKER,
  readAnswer,
  readHello,
  unwrapFrame,
  wrapUserData,
} from "../_resume_frames.ts";
import {
  createToken,
  isSameToken,
  offerProtocols,
  parseProtocols,
  RESUME_PROTOCOL,
  SELECTOR_LENGTH,
  takeResumeQuery,
  TOKEN_LENGTH,
  tokenSelector,
  withResumeQuery,
} from "../_resume_handshake.ts";
import { ResumeState } from "../_resume_state.ts";
import { seeded } from "./_helpers.ts";

/** What a socket hands over for what was sent: a string or a fresh buffer. */
function onTheWire(data: Encoded): Frame {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return data.slice(0);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      .slice().buffer;
  }
  throw new Error("no Blob on this simulated wire");
}

function bytesOf(frame: Frame): number[] {
  assert(frame instanceof ArrayBuffer);
  return [...new Uint8Array(frame)];
}

// ---------------------------------------------------------------------------
// The token

Deno.test("createToken() makes 36 base64url characters, never the same twice", () => {
  const tokens = new Set<string>();
  const selectors = new Set<string>();
  const characters = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const token = createToken();
    assertEquals(token.length, TOKEN_LENGTH);
    assertMatch(token, /^[A-Za-z0-9_-]{36}$/);
    tokens.add(token);
    selectors.add(tokenSelector(token));
    for (const character of token) characters.add(character);
  }
  assertEquals(tokens.size, 2000);
  assertEquals(selectors.size, 2000);
  // 72,000 characters of 216 random bits per token use the whole alphabet.
  assertEquals(characters.size, 64);
  assertEquals(tokenSelector("abcdefghijklmnop"), "abcdefghijkl");
  assertEquals(SELECTOR_LENGTH, 12);
});

Deno.test("isSameToken() tells equal tokens from different ones of any length", () => {
  const token = createToken();
  assertEquals(isSameToken(token, `${token}`), true);
  assertEquals(isSameToken(token, createToken()), false);
  const last = token.at(-1) === "A" ? "B" : "A";
  assertEquals(isSameToken(token, token.slice(0, -1) + last), false);
  const first = token[0] === "A" ? "B" : "A";
  assertEquals(isSameToken(token, first + token.slice(1)), false);
  assertEquals(isSameToken(token, token.slice(0, -1)), false);
  assertEquals(isSameToken(token, ""), false);
  assertEquals(isSameToken("", ""), true);
});

// ---------------------------------------------------------------------------
// The handshake

Deno.test("parseProtocols() reads a first offer and a reconnect's offer", () => {
  const token = createToken();
  assertEquals(parseProtocols(RESUME_PROTOCOL), {
    resume: { token: null, received: 0 },
    rest: null,
  });
  assertEquals(
    parseProtocols(offerProtocols({ token, received: 12345 }).join(", ")),
    { resume: { token, received: 12345 }, rest: null },
  );
  assertEquals(
    parseProtocols(
      `ws4d-resume.1.${token}.${Number.MAX_SAFE_INTEGER} ,ws4d-resume.1`,
    ),
    { resume: { token, received: Number.MAX_SAFE_INTEGER }, rest: null },
  );
  // The offer of another implementation's shorter or longer token.
  const short = "abcdefghijklmnop";
  assertEquals(parseProtocols(`ws4d-resume.1,ws4d-resume.1.${short}.0`), {
    resume: { token: short, received: 0 },
    rest: null,
  });
});

Deno.test("parseProtocols() gets a null token for forged or malformed offers", () => {
  const token = createToken();
  const forged = [
    `ws4d-resume.1.${token}`, // no count
    `ws4d-resume.1.${token}.`, // empty count
    `ws4d-resume.1.${token}.-1`,
    `ws4d-resume.1.${token}.01`, // leading zero
    `ws4d-resume.1.${token}.1.5`,
    `ws4d-resume.1.${token}.1e3`,
    `ws4d-resume.1.${token}.${Number.MAX_SAFE_INTEGER + 1}`,
    `ws4d-resume.1.${token}.99999999999999999`,
    `ws4d-resume.1.${token.slice(0, 15)}.0`, // too short
    `ws4d-resume.1.${"A".repeat(129)}.0`, // too long
    `ws4d-resume.1.${token.slice(0, -1)}=.0`, // padding
    `ws4d-resume.1.${token.slice(0, -1)}+.0`, // base64, not base64url
    `ws4d-resume.1..${token}.0`,
    `ws4d-resume.1.${token}.0.0`,
    `ws4d-resume.1.${token}.0, ws4d-resume.1.${createToken()}.0`, // two
    `ws4d-resume.1.${token}.0, ws4d-resume.1.${token}.0`, // repeated
    `ws4d-resume.1.${token}.0, ws4d-resume.1.junk`, // one good, one bad
  ];
  for (const offer of forged) {
    assertEquals(
      parseProtocols(`${RESUME_PROTOCOL}, ${offer}`),
      { resume: { token: null, received: 0 }, rest: null },
      offer,
    );
  }
});

Deno.test("parseProtocols() negotiates nothing beside the client's own subprotocol", () => {
  const token = createToken();
  assertEquals(parseProtocols(null), { resume: null, rest: null });
  assertEquals(parseProtocols(""), { resume: null, rest: null });
  assertEquals(parseProtocols(" chat , superchat"), {
    resume: null,
    rest: "chat , superchat",
  });
  assertEquals(parseProtocols(`chat, ${RESUME_PROTOCOL}`), {
    resume: null,
    rest: "chat",
  });
  assertEquals(
    parseProtocols(`${RESUME_PROTOCOL},chat,ws4d-resume.1.${token}.3,v2`),
    { resume: null, rest: "chat, v2" },
  );
  // A token without the protocol to select is no offer, and still hidden.
  assertEquals(parseProtocols(`ws4d-resume.1.${token}.3`), {
    resume: null,
    rest: null,
  });
});

Deno.test("parseProtocols() hides every value of the package, known or not", () => {
  const token = createToken();
  assertEquals(
    parseProtocols(`ws4d-resume.2, ws4d-resume.2.${token}.1, ws4d-resume.1`),
    { resume: { token: null, received: 0 }, rest: null },
  );
  assertEquals(parseProtocols("ws4d-resume.9"), {
    resume: null,
    rest: null,
  });
  // Only the package's prefix: names that merely look alike stay.
  assertEquals(parseProtocols("ws4d-resume, ws4d-resumer.1, x"), {
    resume: null,
    rest: "ws4d-resume, ws4d-resumer.1, x",
  });
  for (
    const header of [`${RESUME_PROTOCOL}, chat`, `ws4d-resume.1.${token}.0`]
  ) {
    const { rest } = parseProtocols(header);
    assertEquals(rest?.includes("ws4d-resume") ?? false, false, header);
    assertEquals(rest?.includes(token) ?? false, false, header);
  }
});

Deno.test("offerProtocols() offers what a browser accepts as subprotocols", () => {
  const token = createToken();
  const httpToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  for (const value of offerProtocols({ token, received: 0 })) {
    assertMatch(value, httpToken);
  }
  assertEquals(offerProtocols(null), [RESUME_PROTOCOL]);
});

// ---------------------------------------------------------------------------
// Options

Deno.test("resolveResume() is off, the defaults, or the fields given", () => {
  assertEquals(resolveResume(undefined), null);
  assertEquals(resolveResume(false), null);
  assertEquals(resolveResume(true), {
    window: 60,
    maxMessages: 1000,
    maxBytes: 1048576,
  });
  assertEquals(resolveResume({ maxMessages: 10, window: 0.5 }), {
    window: 0.5,
    maxMessages: 10,
    maxBytes: 1048576,
  });
});

Deno.test("resolveResume() throws TypeError and RangeError naming the option", () => {
  const action = "Cannot create WebSocketServer: options.resume";
  assertThrows(
    () => resolveResume(1),
    TypeError,
    `${action} must be true or an object, current value is 1`,
  );
  assertThrows(
    () => resolveResume({ size: 1 }),
    TypeError,
    `${action}.size is not an option`,
  );
  assertThrows(
    () => resolveResume({ window: "60" }),
    TypeError,
    `${action}.window must be a number, current value is "60"`,
  );
  const ranges: [Record<string, number>, string][] = [
    [
      { window: -1 },
      "window is in seconds and must be a number of at least 0 and at most 3600 (an hour), current value is -1",
    ],
    [
      { window: Infinity },
      "window is in seconds and must be a number of at least 0 and at most 3600 (an hour), current value is Infinity",
    ],
    [
      { maxMessages: 0 },
      "maxMessages must be an integer of at least 1 and at most 4294967295, current value is 0",
    ],
    [
      { maxMessages: 2.5 },
      "maxMessages must be an integer of at least 1 and at most 4294967295, current value is 2.5",
    ],
    [
      { maxBytes: Infinity },
      "maxBytes must be an integer of at least 1 and at most 9007199254740991, current value is Infinity",
    ],
  ];
  for (const [options, message] of ranges) {
    assertThrows(
      () => resolveResume(options),
      RangeError,
      `${action}.${message}`,
    );
  }
});

// ---------------------------------------------------------------------------
// Frames

Deno.test("encodeControl() lays a hello out byte by byte", () => {
  const token = createToken();
  const bytes = encodeControl({
    type: "hello",
    resumed: true,
    received: 2 ** 32 + 5,
    limits: { window: 60, maxMessages: 1000, maxBytes: 1048576 },
    token,
  });
  assertEquals(bytes.length, 27 + 36);
  assertEquals([...bytes.subarray(0, 27)], [
    0xc1,
    0x01,
    0x01, // marker, hello, resumed
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    5, // received, uint64
    0,
    0,
    0xea,
    0x60, // window: 60000 ms
    0,
    0,
    0x03,
    0xe8, // maxMessages: 1000
    0,
    0,
    0,
    0,
    0,
    0x10,
    0,
    0, // maxBytes: 1048576
  ]);
  assertEquals(new TextDecoder().decode(bytes.subarray(27)), token);
  const fresh = encodeControl({
    type: "hello",
    resumed: false,
    received: 0,
    limits: RESUME_DEFAULTS,
    token,
  });
  assertEquals(fresh[2], 0);
});

Deno.test("decodeControl() reads back every frame encodeControl() makes", () => {
  const frames: ControlFrame[] = [
    { type: "ack", received: 0 },
    { type: "ack", received: Number.MAX_SAFE_INTEGER },
    {
      type: "hello",
      resumed: false,
      received: 0,
      limits: { window: 0, maxMessages: 1, maxBytes: 1 },
      token: "abcdefghijklmnop",
    },
    {
      type: "hello",
      resumed: true,
      received: 123456789012,
      limits: {
        window: 4294967,
        maxMessages: 4294967295,
        maxBytes: Number.MAX_SAFE_INTEGER,
      },
      token: createToken(),
    },
    {
      type: "hello",
      resumed: true,
      received: 7,
      limits: { window: 1.5, maxMessages: 3, maxBytes: 4 },
      token: "_-".repeat(64),
    },
  ];
  for (const frame of frames) {
    const bytes = encodeControl(frame);
    assertEquals(decodeControl(bytes), frame);
    assertEquals(unwrapFrame(bytes.buffer), frame);
  }
});

Deno.test("decodeControl() gets a ProtocolError for malformed frames", () => {
  const token = new TextEncoder().encode(createToken());
  const hello = encodeControl({
    type: "hello",
    resumed: false,
    received: 0,
    limits: RESUME_DEFAULTS,
    token: createToken(),
  });
  const withHeader = (patch: (bytes: Uint8Array) => void) => {
    const bytes = hello.slice();
    patch(bytes);
    return bytes;
  };
  const malformed: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["marker alone", Uint8Array.of(MARKER)],
    ["no marker", Uint8Array.of(0x00, 0x02)],
    ["unknown type", Uint8Array.of(MARKER, 0x03, 0, 0)],
    [
      "ack too short",
      encodeControl({ type: "ack", received: 1 }).subarray(0, 9),
    ],
    [
      "ack too long",
      Uint8Array.of(...encodeControl({ type: "ack", received: 1 }), 0),
    ],
    [
      "ack count past 2^53",
      Uint8Array.of(MARKER, 0x02, 0, 0x20, 0, 0, 0, 0, 0, 0),
    ],
    ["hello without token", hello.subarray(0, 27)],
    ["hello token too short", hello.subarray(0, 27 + 15)],
    [
      "hello token too long",
      Uint8Array.of(...hello, ...token, ...token, ...token, ...token),
    ],
    ["hello token not base64url", withHeader((b) => b[40] = 0x3d)],
    ["hello received past 2^53", withHeader((b) => b[3] = 0xff)],
    ["hello maxMessages 0", withHeader((b) => b.fill(0, 15, 19))],
    ["hello maxBytes 0", withHeader((b) => b.fill(0, 19, 27))],
    ["hello maxBytes past 2^53", withHeader((b) => b[19] = 0x01)],
  ];
  for (const [what, bytes] of malformed) {
    const result = decodeControl(bytes);
    assert(result instanceof Ws4dError, what);
    assertEquals(result.errCode, ErrorCode.ProtocolError, what);
    assertMatch(result.message, /^Cannot resume: /, what);
  }
  // Through unwrapFrame: a frame starting with the marker is never data.
  const unknown = unwrapFrame(Uint8Array.of(MARKER, 0x7f).buffer);
  assert(unknown instanceof Ws4dError);
  assert(unwrapFrame(Uint8Array.of(MARKER).buffer) instanceof Ws4dError);
});

Deno.test("encodeControl() throws RangeError for what the wire cannot carry", () => {
  const hello = (
    patch: Partial<HelloFrame>,
    limits: Partial<ResumeLimits> = {},
  ) =>
    encodeControl({
      type: "hello",
      resumed: false,
      received: 0,
      token: createToken(),
      ...patch,
      limits: { ...RESUME_DEFAULTS, ...limits },
    });
  for (const received of [-1, 1.5, NaN, 2 ** 53]) {
    assertThrows(() => encodeControl({ type: "ack", received }), RangeError);
    assertThrows(() => hello({ received }), RangeError);
  }
  assertThrows(() => hello({ token: "short" }), RangeError);
  assertThrows(() => hello({ token: `${createToken()}=` }), RangeError);
  assertThrows(() => hello({}, { window: 4294968 }), RangeError);
  assertThrows(() => hello({}, { window: -1 }), RangeError);
  assertThrows(() => hello({}, { maxMessages: 0 }), RangeError);
  assertThrows(() => hello({}, { maxMessages: 2 ** 32 }), RangeError);
  assertThrows(() => hello({}, { maxBytes: 0 }), RangeError);
});

Deno.test("unwrapFrame() gives text and unmarked binary back as they are", () => {
  assertEquals(unwrapFrame(""), "");
  assertEquals(unwrapFrame("\u00c1 text"), "\u00c1 text");
  for (const first of [0x00, 0x01, 0x7f, 0xc0, 0xc2, 0xff]) {
    const buffer = Uint8Array.of(first, 0x02, 0x03).buffer;
    assertStrictEquals(unwrapFrame(buffer), buffer, "no copy");
  }
  const empty = new ArrayBuffer(0);
  assertStrictEquals(unwrapFrame(empty), empty);
});

Deno.test("wrapUserData() and unwrapFrame() carry any bytes unchanged", () => {
  const random = seeded(1);
  const samples: Uint8Array[] = [
    new Uint8Array(0),
    Uint8Array.of(MARKER),
    Uint8Array.of(MARKER, 0x00),
    Uint8Array.of(MARKER, 0x01, 0, 0),
    Uint8Array.of(MARKER, 0x02),
    Uint8Array.of(MARKER, MARKER),
    Uint8Array.of(0x00, MARKER),
  ];
  for (let i = 0; i < 500; i++) {
    const bytes = new Uint8Array(Math.floor(random() * 40));
    for (let j = 0; j < bytes.length; j++) {
      bytes[j] = random() < 0.3 ? MARKER : Math.floor(random() * 256);
    }
    samples.push(bytes);
  }
  for (const bytes of samples) {
    for (
      const given of [
        bytes,
        bytes.slice().buffer,
        new DataView(bytes.slice().buffer),
      ]
    ) {
      const wrapped = wrapUserData(given);
      const expected = bytes[0] === MARKER ? bytes.length + 2 : bytes.length;
      assertEquals((wrapped as Uint8Array).byteLength, expected);
      assertEquals(sizeOf(given), bytes.length);
      assertEquals(bytesOf(unwrapFrame(onTheWire(wrapped)) as Frame), [
        ...bytes,
      ]);
    }
  }
  // A view into a larger buffer carries only its own bytes.
  const whole = Uint8Array.of(9, 9, MARKER, 4, 9);
  const view = whole.subarray(2, 4);
  assertEquals(
    bytesOf(unwrapFrame(onTheWire(wrapUserData(view))) as Frame),
    [MARKER, 4],
  );
});

Deno.test("wrapUserData() copies bytes, so a reused buffer cannot change a resend", () => {
  const buffer = Uint8Array.of(1, 2, 3);
  const plain = wrapUserData(buffer) as Uint8Array;
  buffer[0] = MARKER;
  const marked = wrapUserData(buffer) as Uint8Array;
  buffer.fill(0);
  assertEquals([...plain], [1, 2, 3]);
  assertEquals([...marked], [MARKER, 0x00, MARKER, 2, 3]);
  assertEquals(wrapUserData("text"), "text");
  assertEquals(sizeOf("h\u00e9\u{1f600}"), 4, "UTF-16 code units");
});

Deno.test("wrapUserData() puts every Blob behind the prefix", async () => {
  for (
    const bytes of [
      Uint8Array.of(1, 2),
      Uint8Array.of(MARKER, 1),
      new Uint8Array(0),
    ]
  ) {
    const blob = new Blob([bytes]);
    const wrapped = wrapUserData(blob);
    assert(wrapped instanceof Blob);
    assertEquals(sizeOf(blob), bytes.length);
    const frame = await wrapped.arrayBuffer();
    assertEquals([...new Uint8Array(frame).subarray(0, 2)], [MARKER, 0x00]);
    assertEquals(bytesOf(unwrapFrame(frame) as Frame), [...bytes]);
  }
});

// ---------------------------------------------------------------------------
// The state

Deno.test("ResumeState keeps messages in order across acks and ring growth", () => {
  const state = new ResumeState<number>({
    ...RESUME_DEFAULTS,
    maxMessages: 1e6,
  });
  let next = 0;
  let acked = 0;
  const random = seeded(3);
  for (let round = 0; round < 400; round++) {
    const burst = Math.floor(random() * 60);
    for (let i = 0; i < burst; i++) state.keep(next++, 10);
    acked += Math.floor(random() * (next - acked + 1));
    assertEquals(state.acknowledge(acked), true);
    assertEquals(state.keptMessages, next - acked);
    assertEquals(state.keptBytes, (next - acked) * 10);
    const rest = Array.from({ length: next - acked }, (_, i) => acked + i);
    assertEquals(state.resumeFrom(acked), rest);
  }
  assertEquals(state.sent, next);
  assertEquals(state.acknowledged, acked);
});

Deno.test("ResumeState.acknowledge() refuses counts out of range and changes nothing", () => {
  const state = new ResumeState<string>();
  for (const text of ["a", "bb", "ccc"]) state.keep(text, text.length);
  assertEquals(state.acknowledge(1), true);
  for (const wrong of [0, 4, -1, 1.5, NaN, Infinity]) {
    assertEquals(state.acknowledge(wrong), false, `${wrong}`);
    assertEquals(state.canResumeFrom(wrong), false, `${wrong}`);
    assertEquals(state.resumeFrom(wrong), null, `${wrong}`);
  }
  assertEquals(state.acknowledge(1), true, "a repeated ack is no error");
  assertEquals(state.keptBytes, 5);
  assertEquals(state.resumeFrom(2), ["ccc"]);
  assertEquals(state.resumeFrom(3), []);
  assertEquals(state.keptBytes, 0);
});

Deno.test("ResumeState.takeUnacknowledged() hands the kept messages over once", () => {
  const state = new ResumeState<string>();
  for (const text of ["a", "b", "c", "d"]) state.keep(text, 1);
  state.acknowledge(1);
  assertEquals(state.takeUnacknowledged(), ["b", "c", "d"]);
  assertEquals(state.takeUnacknowledged(), []);
  assertEquals(state.keptMessages, 0);
  assertEquals(state.keptBytes, 0);
});

Deno.test("ResumeState.overLimits counts messages, and bytes past one message", () => {
  const state = new ResumeState<string>({
    window: 1,
    maxMessages: 3,
    maxBytes: 100,
  });
  state.keep("x".repeat(500), 500);
  assertEquals(state.overLimits, false, "one message is always kept");
  state.keep("y", 1);
  assertEquals(state.overLimits, true, "501 bytes in two messages");
  state.acknowledge(1);
  assertEquals(state.overLimits, false);
  state.keep("a", 1);
  state.keep("b", 1);
  assertEquals(state.overLimits, false, "3 messages");
  state.keep("c", 1);
  assertEquals(state.overLimits, true, "4 messages");
});

Deno.test("ResumeState.countReceived() asks for an ack at a quarter of either limit", () => {
  const state = new ResumeState<string>();
  let acks = 0;
  for (let i = 1; i <= 1000; i++) {
    if (state.countReceived(10)) {
      assertEquals(i % 250, 0, `ack after ${i}`);
      assertEquals(state.takeAck(), i);
      acks++;
    }
  }
  assertEquals(acks, 4);
  assertEquals(state.ackPending, false);
  assertEquals(state.countReceived(262143), false);
  assertEquals(state.ackPending, true);
  assertEquals(
    state.countReceived(1),
    true,
    "262144 bytes: a quarter of 1 MiB",
  );
  assertEquals(state.takeAck(), 1002);
  assertEquals(state.countReceived(2_000_000), true, "one large message");
  state.takeAck();
  const tight = new ResumeState<string>({
    window: 1,
    maxMessages: 3,
    maxBytes: 2,
  });
  assertEquals(tight.countReceived(0), true, "a quarter of 3 is at least 1");
  tight.takeAck();
  tight.limits = { window: 1, maxMessages: 100, maxBytes: 1e9 };
  assertEquals(tight.countReceived(0), false, "new limits, new thresholds");
});

Deno.test("ResumeState.windowDeadline() is the break plus the window", () => {
  assertEquals(new ResumeState().windowDeadline(1000), 61_000);
  const state = new ResumeState({ window: 0.25, maxMessages: 1, maxBytes: 1 });
  assertEquals(state.windowDeadline(5), 255);
});

/**
 * Sender and receiver one tick apart each way: at each tick the sender reads
 * the acks that arrived, sends `rate` messages, and the receiver reads what
 * arrived and acks when due. Returns the most kept after any tick.
 */
function simulateRate(
  limits: ResumeLimits,
  rate: number,
  ticks: number,
  random: () => number,
  readPerTick = Infinity,
): { maxMessages: number; maxBytes: number; over: boolean; bound: boolean } {
  const sender = new ResumeState<number>(limits);
  const receiver = new ResumeState<number>(limits);
  const ackEveryMessages = Math.max(1, Math.floor(limits.maxMessages / 4));
  const ackEveryBytes = Math.max(1, Math.floor(limits.maxBytes / 4));
  let toReceiver: number[][] = [];
  let toSender: number[] = [];
  const sizes: number[] = [];
  const bytesAt: number[] = [];
  let backlog: number[] = [];
  let maxMessages = 0;
  let maxBytes = 0;
  let over = false;
  let bound = true;
  for (let tick = 0; tick < ticks; tick++) {
    for (const count of toSender) assert(sender.acknowledge(count));
    toSender = [];
    const sent: number[] = [];
    let bytes = 0;
    for (let i = 0; i < rate; i++) {
      const size = 1 + Math.floor(random() * 1000);
      sizes.push(size);
      sender.keep(sizes.length - 1, size);
      sent.push(sizes.length - 1);
      bytes += size;
    }
    bytesAt.push(bytes);
    maxMessages = Math.max(maxMessages, sender.keptMessages);
    maxBytes = Math.max(maxBytes, sender.keptBytes);
    over ||= sender.overLimits;
    if (readPerTick === Infinity) {
      // Kept: this tick's and the last tick's sends, and less than one
      // quarter that the receiver has yet to ack.
      const flight = (bytesAt[tick] ?? 0) + (bytesAt[tick - 1] ?? 0);
      bound &&= sender.keptMessages < 2 * rate + ackEveryMessages &&
        sender.keptBytes < flight + ackEveryBytes;
    }
    backlog = backlog.concat(toReceiver.flat());
    toReceiver = [sent];
    const read = backlog.splice(0, Math.min(backlog.length, readPerTick));
    for (const n of read) {
      if (receiver.countReceived(sizes[n] as number)) {
        toSender.push(receiver.takeAck());
      }
    }
  }
  return { maxMessages, maxBytes, over, bound };
}

Deno.test("Acks keep what the sender keeps within one quarter plus a round trip, at any rate", () => {
  const random = seeded(11);
  const small = { window: 60, maxMessages: 8, maxBytes: 8000 };
  for (const limits of [RESUME_DEFAULTS, small]) {
    const quarter = Math.floor(limits.maxMessages / 4);
    const quarterBytes = Math.floor(limits.maxBytes / 4);
    let within = 0;
    for (
      const rate of [1, 2, 3, 4, 7, 10, 50, 100, 249, 250, 375, 376, 1000, 5000]
    ) {
      const result = simulateRate(limits, rate, 60, random);
      assert(result.bound, `rate ${rate}: ${JSON.stringify(result)}`);
      // A round trip's sends (2 ticks, messages of at most 1000 bytes) fit
      // in what a quarter leaves: never over the limits.
      if (
        2 * rate + quarter - 1 <= limits.maxMessages &&
        2 * rate * 1000 + quarterBytes - 1 <= limits.maxBytes
      ) {
        within++;
        assertEquals(result.over, false, `rate ${rate}`);
        assert(result.maxMessages <= limits.maxMessages);
        assert(result.maxBytes <= limits.maxBytes);
      }
    }
    assert(within >= 3);
  }
});

Deno.test("A receiver that reads slower than the sender sends passes the limits", () => {
  const random = seeded(12);
  const slow = simulateRate(RESUME_DEFAULTS, 100, 100, random, 50);
  assertEquals(slow.over, true);
  const keeping = simulateRate(RESUME_DEFAULTS, 100, 100, random, 100);
  assertEquals(keeping.over, false);
});

// ---------------------------------------------------------------------------
// Exactly once across breaks: two sides, two wires, cuts at random frames

interface Side {
  readonly name: string;
  state: ResumeState<Encoded>;
  /** The numbers of the user messages received, in order. */
  readonly got: number[];
  /** The number of the next user message to send. */
  next: number;
  /** Whether it may write to its wire (the client: once it had the hello). */
  open: boolean;
  /** The wire to the other side: frames in flight, lost at a cut. */
  wire: Frame[];
}

function side(name: string, limits: ResumeLimits): Side {
  return {
    name,
    state: new ResumeState(limits),
    got: [],
    next: 0,
    open: false,
    wire: [],
  };
}

/** Message n: its number as text, or as bytes that may start with 0xC1. */
function payload(n: number, random: () => number): Encoded {
  if (random() < 0.5) return String(n);
  const bytes = new Uint8Array(1 + Math.floor(random() * 6) + 4);
  bytes[0] = random() < 0.5 ? MARKER : Math.floor(random() * 256);
  new DataView(bytes.buffer).setUint32(bytes.length - 4, n);
  return bytes;
}

function numberOf(data: Frame): number {
  if (typeof data === "string") return Number(data);
  const view = new DataView(data);
  return view.getUint32(data.byteLength - 4);
}

function send(from: Side, random: () => number): void {
  const data = payload(from.next++, random);
  const frame = wrapUserData(data);
  from.state.keep(frame, sizeOf(data));
  if (from.open) from.wire.push(onTheWire(frame));
}

/** `to` reads one frame; returns the hello when it is one. */
function deliver(frame: Frame, to: Side): HelloFrame | null {
  const data = unwrapFrame(frame);
  if (data instanceof Ws4dError) throw data;
  if (typeof data === "string" || data instanceof ArrayBuffer) {
    to.got.push(numberOf(data));
    if (to.state.countReceived(sizeOf(data)) && to.open) {
      to.wire.push(
        onTheWire(encodeControl({ type: "ack", received: to.state.takeAck() })),
      );
    }
    return null;
  }
  if (data.type === "ack") {
    assert(
      to.state.acknowledge(data.received),
      `${to.name}: ack ${data.received}`,
    );
    return null;
  }
  if (data.type !== "hello") throw new Error(`${to.name}: ${data.type}`);
  return data;
}

interface Run {
  cuts: number;
  resumes: number;
  maxKept: number;
}

/**
 * Both sides send `count` numbered messages each, in random order with
 * random deliveries, while the connection is cut at random frames: what is
 * on the wire at a cut is lost. Every reconnect resumes.
 */
function runSession(seed: number, count: number, limits: ResumeLimits): Run & {
  server: Side;
  client: Side;
} {
  const random = seeded(seed);
  const server = side("server", limits);
  const client = side("client", limits);
  const token = createToken();
  let offered: string | null = null;
  let connected = false;
  let waitSteps = 0;
  const run: Run = { cuts: 0, resumes: 0, maxKept: 0 };

  const connect = () => {
    // The client offers; the server reads the header as the integration will.
    const header = offerProtocols(
      offered === null
        ? null
        : { token: offered, received: client.state.received },
    ).join(", ");
    const { resume, rest } = parseProtocols(header);
    assertEquals(rest, null);
    assert(resume !== null);
    let resumed = false;
    let resend: Encoded[] = [];
    if (resume.token !== null) {
      assert(isSameToken(resume.token, token));
      const frames = server.state.resumeFrom(resume.received);
      assert(frames !== null, `server resumes from ${resume.received}`);
      resend = frames;
      resumed = true;
      run.resumes++;
    }
    server.wire = [];
    client.wire = [];
    server.open = true;
    server.wire.push(onTheWire(encodeControl({
      type: "hello",
      resumed,
      received: server.state.received,
      limits,
      token,
    })));
    for (const frame of resend) server.wire.push(onTheWire(frame));
    // A client that offered no token may send at once: both counts are 0.
    client.open = offered === null;
    connected = true;
  };

  const cut = () => {
    server.wire = [];
    client.wire = [];
    server.open = false;
    client.open = false;
    connected = false;
    waitSteps = Math.floor(random() * 30);
    run.cuts++;
  };

  const step = (): boolean => {
    const choice = random();
    if (!connected) {
      if (waitSteps-- <= 0) connect();
      else if (choice < 0.5 && server.next < count) send(server, random);
      else if (client.next < count) send(client, random);
      return true;
    }
    // Cuts come once the client holds a token: before, it could not resume.
    if (choice < 0.003 && offered !== null) {
      cut();
    } else if (choice < 0.3 && server.next < count) {
      send(server, random);
    } else if (choice < 0.6 && client.next < count) {
      send(client, random);
    } else {
      const toClient = random() < 0.5;
      const from = toClient ? server : client;
      const to = toClient ? client : server;
      let n = 1 + Math.floor(random() * 8);
      while (n-- > 0 && from.wire.length > 0 && connected) {
        const hello = deliver(from.wire.shift() as Frame, to);
        if (hello !== null) {
          assertStrictEquals(to, client);
          assertEquals(hello.resumed, offered !== null);
          client.state.limits = hello.limits;
          if (hello.resumed) {
            const frames = client.state.resumeFrom(hello.received);
            assert(frames !== null, `client resumes from ${hello.received}`);
            for (const frame of frames) client.wire.push(onTheWire(frame));
          }
          offered = hello.token;
          client.open = true;
        }
      }
    }
    const done = server.next === count && client.next === count &&
      server.got.length === count && client.got.length === count;
    return !done;
  };

  let steps = 0;
  while (step()) {
    run.maxKept = Math.max(
      run.maxKept,
      server.state.keptMessages,
      client.state.keptMessages,
    );
    // Past the sends, the connection must come back and settle.
    if (++steps > 40 * count) throw new Error(`seed ${seed}: no progress`);
  }
  return { ...run, server, client };
}

Deno.test("ResumeState delivers 10,000 messages each way exactly once, in order, across random cuts", () => {
  const all = Array.from({ length: 10_000 }, (_, n) => n);
  for (const seed of [1, 2, 3]) {
    const { server, client, cuts, resumes } = runSession(seed, 10_000, {
      window: 60,
      maxMessages: 64, // an ack every 16: many acks lost at cuts
      maxBytes: 1024,
    });
    assert(cuts >= 50, `seed ${seed}: ${cuts} cuts`);
    assert(resumes >= cuts - 1, `seed ${seed}: ${resumes} resumes`);
    assertEquals(server.got, all, `seed ${seed}: client to server`);
    assertEquals(client.got, all, `seed ${seed}: server to client`);
  }
});

Deno.test("ResumeState with the default limits: exactly once, and kept within them", () => {
  const all = Array.from({ length: 10_000 }, (_, n) => n);
  const { server, client, cuts, maxKept } = runSession(
    99,
    10_000,
    RESUME_DEFAULTS,
  );
  assert(cuts >= 50, `${cuts} cuts`);
  assertEquals(server.got, all);
  assertEquals(client.got, all);
  assert(maxKept <= RESUME_DEFAULTS.maxMessages, `${maxKept} kept`);
});

Deno.test("A session the server did not resume gets the client's unacknowledged messages again, at least once", () => {
  const random = seeded(5);
  const limits = { window: 60, maxMessages: 40, maxBytes: 1e6 };
  const client = side("client", limits);
  const server = side("server", limits);
  client.open = true;
  server.open = true;
  for (let i = 0; i < 100; i++) {
    send(client, random);
    // The server reads about half of what is in flight, then acks.
    while (client.wire.length > 0 && random() < 0.5) {
      deliver(client.wire.shift() as Frame, server);
      if (server.wire.length > 0) deliver(server.wire.shift() as Frame, client);
    }
  }
  const lost = client.wire.length;
  assert(lost > 0);
  // The break; the server lost the session (its window passed).
  const unacked = client.state.takeUnacknowledged();
  assert(unacked.length >= lost);
  const fresh = side("server (fresh)", limits);
  client.state = new ResumeState(limits);
  client.wire = [];
  for (const frame of unacked) {
    const data = unwrapFrame(onTheWire(frame));
    assert(typeof data === "string" || data instanceof ArrayBuffer);
    client.state.keep(frame, sizeOf(data));
    client.wire.push(onTheWire(frame));
  }
  for (const frame of client.wire) deliver(frame, fresh);
  const seen = new Set([...server.got, ...fresh.got]);
  assertEquals(seen.size, 100, "every message at least once");
  assertEquals(fresh.got, [...fresh.got].sort((a, b) => a - b), "in order");
  assertEquals(fresh.got.at(-1), 99);
  assert(
    (fresh.got[0] as number) <= 100 - lost,
    "from before the first lost",
  );
});

Deno.test("withResumeQuery() adds the fresh offer, the rest of the URL as written", () => {
  assertEquals(withResumeQuery("ws://h"), "ws://h?ws4d-resume=1");
  assertEquals(withResumeQuery("ws://h/a"), "ws://h/a?ws4d-resume=1");
  assertEquals(withResumeQuery("ws://h/?"), "ws://h/?ws4d-resume=1");
  assertEquals(withResumeQuery("ws://h/?a=1&"), "ws://h/?a=1&ws4d-resume=1");
  assertEquals(
    withResumeQuery("ws://h/?a=%20+b"),
    "ws://h/?a=%20+b&ws4d-resume=1",
  );
});

Deno.test("takeResumeQuery() takes every ws4d-resume parameter out; only one, of value 1, offers", () => {
  assertEquals(takeResumeQuery(""), { offered: false, search: "" });
  assertEquals(takeResumeQuery("?ws4d-resume=1"), {
    offered: true,
    search: "",
  });
  assertEquals(takeResumeQuery("?a=%20+b&ws4d-resume=1&c"), {
    offered: true,
    search: "?a=%20+b&c",
  });
  for (
    const search of [
      "?ws4d-resume=1&ws4d-resume=1",
      "?ws4d-resume=2",
      "?ws4d-resume",
      "?ws4d-resume=",
      "?ws4d-resume=1.x",
    ]
  ) {
    assertEquals(takeResumeQuery(search), { offered: false, search: "" });
  }
  // A name or value that merely contains it stays.
  assertEquals(takeResumeQuery("?x=ws4d-resume=1&ws4d-resumes=1"), {
    offered: false,
    search: "?x=ws4d-resume=1&ws4d-resumes=1",
  });
});

Deno.test("readHello() reads a well-formed hello only; anything else is a plain server's message", () => {
  const hello = {
    type: "hello",
    resumed: false,
    received: 0,
    limits: RESUME_DEFAULTS,
    token: "A".repeat(36),
  } as const;
  const bytes = encodeControl(hello);
  assertEquals(readHello(bytes.buffer), hello);
  assertEquals(readHello("text"), null);
  assertEquals(readHello(new ArrayBuffer(0)), null);
  assertEquals(readHello(bytes.slice(0, 42).buffer), null, "a token too short");
  const badToken = bytes.slice();
  badToken[30] = 0x2e; // "."
  assertEquals(readHello(badToken.buffer), null);
  const ack = new Uint8Array(bytes.length);
  ack.set([MARKER, FrameType.Ack]);
  assertEquals(readHello(ack.buffer), null);
});

Deno.test("encodeAnswer() and readAnswer(): exactly the marker, the type and this session's token", () => {
  const token = createToken();
  const accept = encodeAnswer("accept", token);
  const decline = encodeAnswer("decline", token);
  assertEquals([...accept.subarray(0, 2)], [MARKER, FrameType.Accept]);
  assertEquals([...decline.subarray(0, 2)], [MARKER, FrameType.Decline]);
  assertEquals(new TextDecoder().decode(accept.subarray(2)), token);
  assertEquals(readAnswer(accept.buffer, token), "accept");
  assertEquals(readAnswer(decline.buffer, token), "decline");
  assertEquals(readAnswer(accept.buffer, createToken()), null);
  assertEquals(readAnswer(accept.slice(0, -1).buffer, token), null);
  assertEquals(readAnswer(Uint8Array.of(...accept, 0).buffer, token), null);
  const other = accept.slice();
  other[1] = FrameType.Ack;
  assertEquals(readAnswer(other.buffer, token), null);
  const unmarked = accept.slice();
  unmarked[0] = 0;
  assertEquals(readAnswer(unmarked.buffer, token), null);
  assertEquals(readAnswer(token, token), null, "text is data");
});

Deno.test("the declined frame is the 2 bytes C1 05", () => {
  const bytes = encodeControl({ type: "declined" });
  assertEquals([...bytes], [MARKER, FrameType.Declined]);
  assertEquals(decodeControl(bytes), { type: "declined" });
  assertEquals(unwrapFrame(bytes.buffer), { type: "declined" });
  assert(
    decodeControl(Uint8Array.of(MARKER, FrameType.Declined, 0)) instanceof
      Ws4dError,
  );
});

/**
 * The ack of resuming's layer comes at least every 100 ms while messages
 * arrive (issue 22): what a lost instance makes its peer send again is at
 * most what was in flight. Under `FakeTime`, the layer alone, on a link
 * that records what it is sent.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { FakeTime } from "@std/testing/time";
import type { Encoded, Frame } from "../_codec.ts";
import type { Link } from "../_link.ts";
import { ACK_EVERY_MS, RESUME_DEFAULTS, Resumption } from "../_resume.ts";
import { unwrapFrame } from "../_resume_frames.ts";
import type { ResumeHost } from "../_resume_host.ts";

/** A host whose link records what it is sent, and delivers nothing. */
function recordingHost(): { host: ResumeHost; sent: Encoded[] } {
  const sent: Encoded[] = [];
  const link: Link = {
    protocol: "",
    bufferedAmount: 0,
    listen() {},
    send: (frame) => void sent.push(frame),
    close() {},
    abort() {},
    release() {},
  };
  const delivered: Frame[] = [];
  const host: ResumeHost = {
    link,
    delivering: true,
    closed: false,
    admit: () => true,
    deliver: (frame) => void delivered.push(frame),
    receivePlain: (frame) => void delivered.push(frame),
    transmit: (wire) => link.send(wire),
    fail() {},
    slowConsumer() {},
    opened() {},
    relinked() {},
    unresumable() {},
    abandon() {},
  };
  return { host, sent };
}

/** The acks among `sent`, as their counts. */
function acks(sent: Encoded[]): number[] {
  const counts: number[] = [];
  for (const frame of sent) {
    if (!(frame instanceof Uint8Array)) continue;
    const control = unwrapFrame(frame.slice().buffer);
    if (
      typeof control === "object" && control !== null &&
      "type" in control && control.type === "ack"
    ) counts.push(control.received);
  }
  return counts;
}

/** A server's resumption, opened on a recording host (its hello dropped). */
function openedServer() {
  const { host, sent } = recordingHost();
  const resumption = Resumption.server(
    RESUME_DEFAULTS,
    "t".repeat(36),
    true,
    undefined,
  );
  resumption.opened(host); // The hello; linked.
  sent.length = 0;
  return { host, sent, resumption };
}

Deno.test("an ack goes 100 ms after the first message since the last one, not per message", async () => {
  using time = new FakeTime();
  const { host, sent, resumption } = openedServer();
  resumption.received("a", host);
  resumption.received("b", host);
  await time.tickAsync(ACK_EVERY_MS - 1);
  assertEquals(acks(sent), []);
  resumption.received("c", host);
  await time.tickAsync(1);
  assertEquals(acks(sent), [3]);
  // Nothing arrived since: no more acks, no timer left.
  await time.tickAsync(ACK_EVERY_MS * 5);
  assertEquals(acks(sent), [3]);
  resumption.received("d", host);
  await time.tickAsync(ACK_EVERY_MS);
  assertEquals(acks(sent), [3, 4]);
  // A steady flow, one message every 10 ms from the ack of 4 on: the first
  // starts the timer, which sends the 10 received in its 100 ms; the next
  // message starts it again. An ack every 100 ms, the last with all 50.
  for (let i = 0; i < 50; i++) {
    resumption.received(`m${i}`, host);
    await time.tickAsync(10);
  }
  assertEquals(acks(sent), [3, 4, 14, 24, 34, 44, 54]);
  resumption.stopWaiting();
});

Deno.test("the ack's timer stops with the session", async () => {
  using time = new FakeTime();
  const { host, sent, resumption } = openedServer();
  resumption.received("a", host);
  resumption.stopWaiting(); // the session ended
  await time.tickAsync(ACK_EVERY_MS * 2);
  assertEquals(acks(sent), []);
});

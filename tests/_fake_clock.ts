/**
 * Time under control, for the tests of what ws4d does on a timer:
 * {@linkcode FakeClock} is `FakeTime` with `performance.now` following its
 * clock (the rate limit and the client's resume window read
 * `performance.now`, which `FakeTime` leaves real), and
 * {@linkcode noteUpgrades} notes what ws4d hands to `Deno.upgradeWebSocket`
 * (Deno's own timers, such as `idleTimeout`'s pings, live there).
 *
 * Socket events still come from Deno while the clock is fake: a test ticks
 * the clock (`await time.tickAsync(ms)`), then waits on the event. Every
 * wait of the helpers (`within`, `Events`, the recorders) runs on the
 * runtime's own timers (`_waits.ts`), which `FakeTime` does not hold;
 * `within` and `Events` are exported here too.
 *
 * @module
 */
import { type Stub, stub } from "@std/testing/mock";
import { FakeTime } from "@std/testing/time";
import { assertExists } from "@std/assert";
import { closeOf, type RawPeer, readFramesUntil } from "../testkit/raw_peer.ts";
import { within } from "./_waits.ts";

export { Events, within } from "./_waits.ts";

/**
 * `FakeTime`, and `performance.now` on the same clock: it goes on from
 * where the real one was (rounded up to a whole millisecond) and moves only
 * when the fake time does. Disposing restores both.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./_fake_clock.ts";
 * using time = new FakeClock();
 * const before = performance.now();
 * time.tick(1500);
 * console.assert(performance.now() - before === 1500);
 * ```
 */
export class FakeClock extends FakeTime {
  readonly #performanceNow: Stub<Performance, [], number>;

  constructor() {
    super();
    // A whole number of ms, as the fake time's steps are: differences of
    // readings are then exact (200, not 199.99999999999997).
    const base = Math.ceil(performance.now());
    const start = this.now;
    this.#performanceNow = stub(
      performance,
      "now",
      () => base + (this.now - start),
    );
  }

  /**
   * Advances `ms`, running each timer due on the way, then lets every
   * promise that this settled run on (a real task, no fake time): what
   * happens at that millisecond has happened when it resolves.
   */
  async advance(ms: number): Promise<void> {
    await this.tickAsync(ms);
    await this.runMicrotasks();
  }

  /**
   * Runs what is due, then advances to the next timer and runs it.
   *
   * @returns The milliseconds the clock moved; throws when no timer is set.
   */
  async nextTimer(): Promise<number> {
    const before = this.now;
    if (!await this.nextAsync()) throw new Error("no timer is set");
    return this.now - before;
  }

  override restore(): void {
    this.#performanceNow.restore();
    super.restore();
  }
}

/** A socket that ws4d upgraded, with what its request offered. */
export interface Upgrade {
  /** The server socket: its events also reach the test's listeners. */
  readonly socket: WebSocket;
  readonly url: string;
  /** The request's `Sec-WebSocket-Protocol`, or null. */
  readonly protocols: string | null;
  /** The options ws4d gave `Deno.upgradeWebSocket`. */
  readonly options: Deno.UpgradeWebSocketOptions | undefined;
}

/**
 * `Deno.upgradeWebSocket`, stubbed to call the real one and note each
 * socket in `into`, with its request's URL and subprotocols (read before
 * the upgrade: Deno answers the request then) and the options ws4d passed.
 * Disposing restores it.
 */
export function noteUpgrades(
  into: Upgrade[],
): Stub<typeof Deno, Parameters<typeof Deno.upgradeWebSocket>> {
  const upgrade = Deno.upgradeWebSocket;
  return stub(Deno, "upgradeWebSocket", (request, options) => {
    const { url } = request;
    const protocols = request.headers.get("sec-websocket-protocol");
    const upgraded = upgrade(request, options);
    into.push({ socket: upgraded.socket, url, protocols, options });
    return upgraded;
  });
}

/**
 * The close frame a raw peer got (its code and reason), once the server's
 * deferred close has run on `time` (ws4d closes a socket a task after it
 * was asked to).
 */
export async function closeFrameOf(
  peer: RawPeer,
  time: FakeTime,
): Promise<[number, string]> {
  await time.tickAsync(0);
  const frames = await within(
    readFramesUntil(
      peer.conn,
      (got) => got.some((frame) => frame.opcode === 8),
      "the close frame",
    ),
    "the close frame",
  );
  const close = frames.find((frame) => frame.opcode === 8);
  assertExists(close);
  return closeOf(close);
}

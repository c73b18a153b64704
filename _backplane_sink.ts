/**
 * What a server's backplane delivers to it ({@linkcode BackplaneSink}): the
 * broadcasts of the other instances, to every connected session here, and
 * the backplane's failures and recoveries, counted and reported; the
 * messages to this instance alone (the relays), the instances gone, and
 * this instance's named counts for its heartbeats.
 *
 * @module
 */
import { handOut, type Recipient } from "./_fanout.ts";
import { ErrorCode, wsError } from "./_errors.ts";
import type { WSServerCounts } from "./_stats.ts";
import type { WSError } from "./_types.ts";
import type { BackplaneData, BackplaneSink, NamedCounts } from "./backplane.ts";
import { isTopic } from "./_topics.ts";

/** Where the messages to this instance alone go (the relays). */
export interface DirectSink {
  receive(from: string, data: Uint8Array): void;
  gone(instance: string): void;
}

/**
 * The sink of one server: `sessions` are its connected ones (read at each
 * delivery), `topic` hands a publish to a topic's local subscribers,
 * `report` is its `onError`.
 */
export function backplaneSink(
  sessions: Iterable<Recipient<unknown>>,
  stats: WSServerCounts,
  report: (statusText: string, errors: readonly WSError[]) => void,
  topic: (topic: string, data: BackplaneData) => void,
  direct: DirectSink,
  counts: () => NamedCounts,
): BackplaneSink {
  return {
    receive(from: string, data: Uint8Array): void {
      direct.receive(from, data);
    },
    gone(instance: string): void {
      direct.gone(instance);
    },
    counts,
    deliver(data: BackplaneData): void {
      handOut(sessions, data, undefined);
    },
    deliverTopic(name: string, data: BackplaneData): void {
      // What another process put on the channel: checked, else ignored.
      if (
        isTopic(name) &&
        (typeof data === "string" || data instanceof Uint8Array)
      ) topic(name, data);
    },
    failed(error: Error): void {
      stats.backplaneFailures++;
      report("backplane failed", [
        wsError(
          ErrorCode.BackplaneFailed,
          `The backplane failed, broadcasts stay local until it is back: ${error.message}`,
          error,
        ),
      ]);
    },
    recovered(dropped: number): void {
      stats.backplaneDrops += dropped;
      report("backplane recovered", [
        wsError(
          ErrorCode.BackplaneFailed,
          `The backplane is back: ${dropped} broadcast(s) did not reach the other instances while it was down`,
        ),
      ]);
    },
  };
}

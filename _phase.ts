// This module is browser compatible.
/**
 * A session's lifecycle as one value, and the public status each value
 * shows.
 *
 * @module
 */
import type { WSClientStatus } from "./_types.ts";

/**
 * A session's lifecycle, as one value; its public status is derived.
 *
 * - `connecting`: its link is not open yet (a client that offered a token:
 *   until the server's hello);
 * - `waiting`: a client between two links, until its next try;
 * - `refused`: `"Connecting"`, but its link failed before it opened (or a
 *   fatal error came first): its `onError` is on its way, its end follows;
 * - `open`: `"Connected"`, messages delivered;
 * - `faulted`: `"Connected"`, but the link failed a peer that broke the
 *   protocol: its `onError` is on its way, the close follows;
 * - `closing`: a close of ours is on its way;
 * - `failing`: a fatal error's `onError` went, its close is on its way;
 * - `closed`: `onTerminate` was dispatched.
 */
export type Phase =
  | "connecting"
  | "waiting"
  | "refused"
  | "open"
  | "faulted"
  | "closing"
  | "failing"
  | "closed";

/** The public status of each phase. */
export const STATUS: Readonly<Record<Phase, WSClientStatus>> = {
  connecting: "Connecting",
  waiting: "Connecting",
  refused: "Connecting",
  open: "Connected",
  faulted: "Connected",
  closing: "Closing",
  failing: "Closing",
  closed: "Closed",
};

/**
 * Whether `onError` was dispatched (at most once) in this phase.
 *
 * @example
 * ```ts
 * import { hasFailed } from "./_phase.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(hasFailed("faulted"), true);
 * assertEquals(hasFailed("closing"), false);
 * ```
 */
export function hasFailed(phase: Phase): boolean {
  return phase === "refused" || phase === "faulted" || phase === "failing";
}

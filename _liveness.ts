// This module is browser compatible.
/**
 * The instances of a server on one backplane, and who is alive: each
 * instance has an id ({@linkcode createInstanceId}), says it is alive every
 * {@linkcode HEARTBEAT_MS} ms with a heartbeat that carries its named
 * counts, and counts another as gone when it has not heard it for
 * {@linkcode GONE_AFTER_MS} ms, or at once when that one says goodbye.
 * Both backplanes of the package use it; the heartbeat's transport is
 * theirs.
 *
 * @module
 */
import { encodeBase64Url } from "@std/encoding/base64url";

/** How often an instance says it is alive (ms). */
export const HEARTBEAT_MS = 250;
/** Silence after which another instance counts as gone (ms). */
export const GONE_AFTER_MS = 1000;
/** The most named counts a heartbeat may carry (more are ignored). */
const MAX_COUNTS = 256;

const ID = /^[A-Za-z0-9_-]{8}$/;

/**
 * A new instance id: 8 base64url characters, random.
 *
 * @example
 * ```ts
 * import { createInstanceId, isInstanceId } from "./_liveness.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(isInstanceId(createInstanceId()), true);
 * ```
 */
export function createInstanceId(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(6)));
}

/** Whether `value` is an instance id (8 base64url characters). */
export function isInstanceId(value: unknown): value is string {
  return typeof value === "string" && ID.test(value);
}

import type { NamedCounts } from "./backplane.ts";
export type { NamedCounts } from "./backplane.ts";

/** A heartbeat, as it travels: its sender, goodbye or not, its counts. */
export interface Heartbeat {
  readonly from: string;
  readonly bye: boolean;
  readonly counts: NamedCounts;
}

/** Encodes a heartbeat as text (JSON). */
export function encodeHeartbeat(heartbeat: Heartbeat): string {
  return JSON.stringify(heartbeat);
}

/**
 * A heartbeat read from the channel, or `null` for anything malformed (a
 * foreign publisher's data is ignored, never thrown).
 *
 * @example
 * ```ts
 * import { decodeHeartbeat, encodeHeartbeat } from "./_liveness.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const beat = { from: "abcdEFGH", bye: false, counts: { connections: 2 } };
 * assertEquals(decodeHeartbeat(encodeHeartbeat(beat)), beat);
 * assertEquals(decodeHeartbeat("{not json"), null);
 * assertEquals(decodeHeartbeat('{"from":"x","bye":false,"counts":{}}'), null);
 * ```
 */
export function decodeHeartbeat(text: unknown): Heartbeat | null {
  if (typeof text !== "string" || text.length > 65536) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const from: unknown = Reflect.get(value, "from");
  const bye: unknown = Reflect.get(value, "bye");
  const raw: unknown = Reflect.get(value, "counts");
  if (!isInstanceId(from) || typeof bye !== "boolean") return null;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return null;
  }
  const counts: Record<string, number> = {};
  let n = 0;
  for (const [name, count] of Object.entries(raw)) {
    if (++n > MAX_COUNTS) break;
    if (typeof count === "number" && Number.isFinite(count)) {
      counts[name] = count;
    }
  }
  return { from, bye, counts };
}

/** What {@linkcode Liveness} asks of its backplane and its server. */
export interface LivenessHost {
  /** Sends a heartbeat to every instance on the channel. */
  beat(text: string): void;
  /** This instance's counts, carried by each heartbeat. */
  counts(): NamedCounts;
  /** An instance is gone: silent past the bound, or it said goodbye. */
  gone(instance: string): void;
}

/**
 * One instance's view of the others: who is alive and their last counts.
 *
 * @example
 * ```ts
 * import { Liveness } from "./_liveness.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const gone: string[] = [];
 * const live = new Liveness("selfSELF", {
 *   beat() {},
 *   counts: () => ({ connections: 1 }),
 *   gone: (id) => gone.push(id),
 * });
 * live.heard({ from: "otherOTH", bye: false, counts: { connections: 2 } });
 * assertEquals(live.alive("otherOTH"), true);
 * assertEquals(live.instances().map((i) => i.counts.connections), [1, 2]);
 * live.heard({ from: "otherOTH", bye: true, counts: {} });
 * assertEquals(gone, ["otherOTH"]);
 * assertEquals(live.instances().length, 1);
 * live.stop();
 * ```
 */
export class Liveness {
  readonly #self: string;
  readonly #host: LivenessHost;
  /** Each other instance: when it was last heard (ms), its counts. */
  readonly #peers = new Map<string, { at: number; counts: NamedCounts }>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Since when this instance hears the channel (start, or a recovery). */
  #hearing = performance.now();
  /** Resolved at the next heartbeat taken in, or at the stop. */
  #next: PromiseWithResolvers<void> | undefined;

  /** Starts the heartbeat of `self` at once. */
  constructor(self: string, host: LivenessHost) {
    this.#self = self;
    this.#host = host;
    this.#timer = setInterval(this.#tick, HEARTBEAT_MS);
    queueMicrotask(this.#tick);
  }

  /**
   * Whether `instance` is alive: itself, or heard within the bound. An
   * instance never heard is alive for as long as this one may not have
   * heard it yet (its first {@linkcode GONE_AFTER_MS} ms).
   */
  alive(instance: string): boolean {
    if (instance === this.#self || this.#peers.has(instance)) return true;
    return performance.now() - this.#hearing < GONE_AFTER_MS;
  }

  /** Every instance alive (this one first) with its counts. */
  instances(): { instance: string; counts: NamedCounts }[] {
    const all = [{ instance: this.#self, counts: this.#host.counts() }];
    for (const [instance, peer] of this.#peers) {
      all.push({ instance, counts: peer.counts });
    }
    return all;
  }

  /**
   * The channel is back after an outage (Redis): instances not heard yet
   * are presumed alive until they could have been heard again.
   */
  recovered(): void {
    this.#hearing = performance.now();
  }

  /**
   * Resolves once the next heartbeat (or goodbye) of another instance has
   * been taken in, so that {@linkcode Liveness.instances} says it; at once
   * when stopped.
   */
  next(): Promise<void> {
    if (this.#timer === undefined) return Promise.resolve();
    return (this.#next ??= Promise.withResolvers<void>()).promise;
  }

  /** A heartbeat from the channel. */
  heard(heartbeat: Heartbeat): void {
    const from = heartbeat.from;
    if (from === this.#self || this.#timer === undefined) return;
    if (heartbeat.bye) {
      if (this.#peers.delete(from)) this.#host.gone(from);
    } else {
      this.#peers.set(from, {
        at: performance.now(),
        counts: heartbeat.counts,
      });
    }
    this.#wake();
  }

  #wake(): void {
    const next = this.#next;
    this.#next = undefined;
    next?.resolve();
  }

  /** Stops the heartbeat; says goodbye where `bye`. */
  stop(bye = false): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#wake();
    if (bye) {
      this.#host.beat(
        encodeHeartbeat({ from: this.#self, bye: true, counts: {} }),
      );
    }
    this.#peers.clear();
  }

  #tick = (): void => {
    if (this.#timer === undefined) return;
    this.#host.beat(encodeHeartbeat({
      from: this.#self,
      bye: false,
      counts: this.#host.counts(),
    }));
    const now = performance.now();
    for (const [instance, peer] of this.#peers) {
      if (now - peer.at > GONE_AFTER_MS) {
        this.#peers.delete(instance);
        this.#host.gone(instance);
      }
    }
  };
}

/// <reference types="npm:@types/node@^22" />
/**
 * The node-redis client of `RedisBackplane` (`npm:redis`), and what it
 * uses of it: one connection to publish, a duplicate to subscribe.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { createClient } from "npm:redis@^5.12.1";
import { describe } from "./_checks.ts";

/** What this module uses of a node-redis client. */
export interface RedisConnection {
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "ready", listener: () => void): unknown;
  connect(): Promise<unknown>;
  publish(channel: string, message: Buffer): Promise<unknown>;
  subscribe(
    channel: string | string[],
    listener: (message: Buffer, channel: Buffer) => void,
    bufferMode: true,
  ): Promise<unknown>;
  unsubscribe(
    channel: string,
    listener: (message: Buffer, channel: Buffer) => void,
    bufferMode: true,
  ): Promise<unknown>;
  duplicate(): RedisConnection;
  destroy(): void;
}

/**
 * A client for the Redis at `url` that reconnects by itself, waiting 50 ms
 * then twice as long each time, up to `maxDelay` ms. A publish while Redis
 * is down fails at once: the caller counts it, nothing is queued.
 */
export function createRedisClient(
  url: string,
  maxDelay: number,
): RedisConnection {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      reconnectStrategy: (retries: number) =>
        Math.min(50 * 2 ** retries, maxDelay),
    },
  }) as unknown as RedisConnection;
}

/**
 * `url` without its password, for messages.
 *
 * @example
 * ```ts
 * import { redacted } from "./_redis_client.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(redacted("redis://u:secret@host:6379"), "redis://u:***@host:6379");
 * ```
 */
export function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== "") parsed.password = "***";
  return parsed.href;
}

/**
 * Checks that `url` is a `redis://` or `rediss://` URL.
 *
 * @throws {TypeError} Naming `url`, after `action`.
 *
 * @example
 * ```ts
 * import { checkRedisUrl } from "./_redis_client.ts";
 * import { assertThrows } from "@std/assert";
 *
 * checkRedisUrl("redis://127.0.0.1:6379", "Cannot connect");
 * assertThrows(() => checkRedisUrl("http://x", "Cannot connect"), TypeError);
 * ```
 */
export function checkRedisUrl(url: unknown, action: string): void {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === "string" ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed?.protocol === "redis:" || parsed?.protocol === "rediss:") return;
  throw new TypeError(
    `${action}: url must be a redis:// or rediss:// URL, current value is ${
      describe(url)
    }`,
  );
}

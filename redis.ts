/**
 * `RedisBackplane`: `wss.broadcast` across processes and machines, Deno
 * Deploy included, through Redis pub/sub. Give every instance one on the same
 * channel: each broadcast reaches every connection of every other instance
 * once, in its instance's order. When Redis fails, local delivery goes on,
 * the server's `onError` gets `BackplaneFailed`, and the backplane reconnects
 * by itself. It is the only module of the package that loads a Redis client
 * (`npm:redis`, node-redis 5, the client maintained by Redis): import it only
 * where you use it.
 *
 * @example Two instances (processes, machines) share the channel "chat"
 * ```ts ignore
 * import { WebSocketServer } from "@ws4d/websocket";
 * import { RedisBackplane } from "@ws4d/websocket/redis";
 *
 * const wss = new WebSocketServer({
 *   onConnection: () => ({
 *     onMessage: (ws, event) => ws.wss.broadcast(event.data, { except: ws }),
 *   }),
 * }, {
 *   backplane: new RedisBackplane(Deno.env.get("REDIS_URL")!, {
 *     channel: "chat",
 *   }),
 * });
 * export default { fetch: wss.fetch };
 * ```
 *
 * The workers of one process need no Redis: `BroadcastChannelBackplane` of
 * [`@ws4d/websocket`](https://jsr.io/@ws4d/websocket/doc). What is cluster-wide and what stays local, and
 * what happens when Redis fails: `docs/scaling.md` in the package.
 *
 * @module
 */
/// <reference types="npm:@types/node@^22" />
import { Buffer } from "node:buffer";
import type {
  Backplane,
  BackplaneData,
  BackplaneSink,
  NamedCounts,
} from "./backplane.ts";
export type {
  Backplane,
  BackplaneData,
  BackplaneSink,
  NamedCounts,
} from "./backplane.ts";
import { toError } from "./_errors.ts";
import {
  checkRedisUrl,
  createRedisClient,
  redacted,
  type RedisConnection,
} from "./_redis_client.ts";
import {
  channels,
  encodeMessage,
  ORIGIN,
  readDirect,
  readMessage,
} from "./_redis_wire.ts";
import {
  createInstanceId,
  decodeHeartbeat,
  isInstanceId,
  Liveness,
} from "./_liveness.ts";
import { checkNumber, checkString, describe } from "./_checks.ts";

/** The options of {@linkcode RedisBackplane}. */
export interface RedisBackplaneOptions {
  /**
   * The Redis channel: servers with the same channel share broadcasts.
   * @default {"ws4d"}
   */
  readonly channel?: string | undefined;
  /**
   * The longest wait, in seconds, between two attempts to reconnect to Redis
   * (attempts start at 0.05 s and double).
   * @default {2}
   */
  readonly maxReconnectDelay?: number | undefined;
}

/** What may wait to go out to other instances alone, then it is a break. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A backplane over Redis pub/sub, for server instances on several processes
 * or machines. It uses two connections (one publishes, one subscribes) and
 * reconnects by itself. While Redis is unreachable, broadcasts stay local:
 * the server's `onError` is told once (`BackplaneFailed`), broadcasts are
 * counted as dropped, and the count is reported when Redis is back.
 *
 * @example Pointed at a Redis that you run
 * ```ts
 * import { RedisBackplane } from "@ws4d/websocket/redis";
 * import { assertEquals } from "@std/assert";
 *
 * const backplane = new RedisBackplane("redis://127.0.0.1:6379", {
 *   channel: "chat",
 * });
 * // Nothing connects until a server starts it:
 * // new WebSocketServer(handler, { backplane }), then `await backplane.ready`.
 * assertEquals(backplane.channel, "chat");
 * assertEquals(backplane.connected, false);
 * ```
 */
export class RedisBackplane implements Backplane {
  readonly #url: string;
  readonly #channel: string;
  /** The prefix of this server's topics' channels. */
  readonly #topicPrefix: string;
  readonly #maxReconnectDelay: number;
  /** This instance's name, first bytes of what it publishes. */
  readonly #origin: Uint8Array = crypto.getRandomValues(new Uint8Array(ORIGIN));
  #publisher: RedisConnection | undefined;
  #subscriber: RedisConnection | undefined;
  #sink: BackplaneSink | undefined;
  /** Which of the two connections are up. */
  #publisherUp = false;
  #subscriberUp = false;
  /** The failure was reported, the recovery not yet. */
  #down = false;
  #dropped = 0;
  #droppedWhileDown = 0;
  #closed = false;
  /** Settle when each connection's connect loop has ended. */
  #connecting: Promise<unknown>[] = [];
  /** The first subscription is done: from then on, "ready" means up. */
  #subscribed = false;
  /** The topics with a subscriber on this instance. */
  readonly #topics = new Set<string>();
  /** The subscribe and unsubscribe commands not answered yet. */
  readonly #pending = new Set<Promise<unknown>>();
  /** The one listener of every topic's channel. */
  readonly #topicListener = (message: Buffer, channel: Buffer): void =>
    this.#receiveTopic(message, channel);
  readonly #ready = Promise.withResolvers<void>();
  #liveness: Liveness | undefined;
  /** Bytes sent to single instances that Redis has not taken yet. */
  #pendingBytes = 0;
  /** This instance's id on the channel. */
  readonly instance: string = createInstanceId();
  /** `instance` as the first bytes of what it sends to one instance. */
  readonly #from: Uint8Array = encoder.encode(this.instance);

  /**
   * Makes a backplane for the Redis at `url`; the server starts it.
   *
   * @param url `redis://[[user]:password@]host[:port][/db]` or `rediss://...`
   * @throws {TypeError} When `url` is not a redis:// or rediss:// URL, or an
   * option has the wrong type.
   * @throws {RangeError} When `options.maxReconnectDelay` is below 0.001 s or
   * not finite.
   */
  constructor(url: string, options?: RedisBackplaneOptions) {
    const action = "Cannot create RedisBackplane";
    checkRedisUrl(url, action);
    const channel = checkString(options?.channel, "options.channel", action) ??
      "ws4d";
    if (channel === "" || channel.includes("\u0000")) {
      throw new TypeError(
        `${action}: options.channel must be a non-empty string without NUL, current value is ${
          describe(channel)
        }`,
      );
    }
    const seconds = options?.maxReconnectDelay === undefined ? 2 : checkNumber(
      options.maxReconnectDelay,
      "options.maxReconnectDelay",
      action,
      {
        min: 0.001,
      },
    );
    this.#url = url;
    this.#channel = channel;
    this.#topicPrefix = channels.topicPrefix(channel);
    this.#maxReconnectDelay = seconds * 1000;
  }

  /** The Redis channel. */
  get channel(): string {
    return this.#channel;
  }

  /** True while both connections to Redis are up. */
  get connected(): boolean {
    return this.#publisherUp && this.#subscriberUp;
  }

  /** Broadcasts that did not reach Redis since this backplane started. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Resolves once Redis has been reached the first time. */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /**
   * Connects to Redis and subscribes; what other instances publish goes to
   * `sink`. It does not wait: until Redis is reached, broadcasts stay local.
   *
   * @throws {Error} When it was started already.
   */
  start(sink: BackplaneSink): void {
    if (this.#sink !== undefined || this.#closed) {
      throw new Error(
        "Cannot start RedisBackplane: a backplane serves one server",
      );
    }
    this.#sink = sink;
    const max = this.#maxReconnectDelay;
    const publisher = createRedisClient(this.#url, max);
    const subscriber = publisher.duplicate();
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    publisher.on("error", (error) => this.#failed("publisher", error));
    subscriber.on("error", (error) => this.#failed("subscriber", error));
    publisher.on("ready", () => this.#up("publisher"));
    subscriber.on("ready", () => {
      if (!this.#subscribed) return;
      // A topic whose SUBSCRIBE failed while Redis was down: asked again.
      this.#subscribeTopics();
      this.#up("subscriber");
    });
    const publisherConnect = publisher.connect();
    const subscriberConnect = subscriber.connect();
    this.#connecting = [publisherConnect, subscriberConnect];
    publisherConnect.catch((error) => this.#failed("publisher", error));
    this.#liveness = new Liveness(this.instance, {
      beat: (text) => this.#beat(text),
      counts: () => sink.counts?.() ?? {},
      gone: (instance) => sink.gone?.(instance),
    });
    subscriberConnect
      .then(() =>
        this.#closed ? undefined : Promise.all([
          subscriber.subscribe(
            this.#channel,
            (message) => this.#receive(message),
            true,
          ),
          subscriber.subscribe(
            channels.live(this.#channel),
            (message) => this.#heard(message),
            true,
          ),
          subscriber.subscribe(
            channels.inbox(this.#channel, this.instance),
            (message) => this.#direct(message),
            true,
          ),
        ])
      )
      .then(() => {
        // node-redis subscribes again by itself after a reconnection.
        this.#subscribed = true;
        this.#subscribeTopics();
        this.#up("subscriber");
      })
      .catch((error) => this.#failed("subscriber", error));
  }

  /** Publishes a broadcast to the other instances; counts it if Redis is down. */
  publish(data: BackplaneData): void {
    this.#send(this.#channel, data);
  }

  /** Publishes on `channel`: the kind, this instance's name, the payload. */
  #send(channel: string, data: BackplaneData): void {
    const publisher = this.#publisher;
    if (publisher === undefined || !this.connected) {
      this.#drop();
      return;
    }
    const message = encodeMessage(
      this.#origin,
      data,
      (size) => Buffer.allocUnsafe(size),
    );
    publisher.publish(channel, message).catch(() => this.#drop());
  }

  /**
   * Publishes to `topic` for the other instances, on the topic's own
   * channel; counted as dropped if Redis is down.
   */
  publishTopic(topic: string, data: BackplaneData): void {
    this.#send(this.#topicPrefix + topic, data);
  }

  /**
   * `topic` has a subscriber here: this instance subscribes to the topic's
   * channel, and receives none of its traffic before nor after it has one.
   */
  subscribe(topic: string): void {
    if (this.#topics.has(topic)) return;
    this.#topics.add(topic);
    const subscriber = this.#subscriber;
    if (subscriber === undefined || !this.#subscribed || this.#closed) return;
    this.#track(
      subscriber.subscribe(
        this.#topicPrefix + topic,
        this.#topicListener,
        true,
      ),
    );
  }

  /** `topic` has no subscriber here any more: its channel is left. */
  unsubscribe(topic: string): void {
    if (!this.#topics.delete(topic)) return;
    const subscriber = this.#subscriber;
    if (subscriber === undefined || !this.#subscribed || this.#closed) return;
    this.#track(
      subscriber.unsubscribe(
        this.#topicPrefix + topic,
        this.#topicListener,
        true,
      ),
    );
  }

  /**
   * Resolves once Redis has answered (or failed) every topic subscription
   * and unsubscription asked so far: from then on, what another instance
   * publishes to a subscribed topic reaches this one.
   */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) {
      await Promise.allSettled(this.#pending);
    }
  }

  /**
   * Publishes `data` to the instance `to` alone; `false` while Redis is
   * down or more than 16 MiB wait to go out (the caller counts a break).
   */
  sendTo(to: string, data: Uint8Array): boolean {
    const publisher = this.#publisher;
    if (
      publisher === undefined || !this.connected || !isInstanceId(to) ||
      this.#pendingBytes > MAX_PENDING_BYTES
    ) return false;
    const message = Buffer.allocUnsafe(this.#from.length + data.byteLength);
    message.set(this.#from, 0);
    message.set(data, this.#from.length);
    const size = message.length;
    this.#pendingBytes += size;
    publisher.publish(channels.inbox(this.#channel, to), message).then(
      () => this.#pendingBytes -= size,
      () => this.#pendingBytes -= size,
    );
    return true;
  }

  /** Whether `instance` was heard within the bound. */
  alive(instance: string): boolean {
    return this.#liveness?.alive(instance) ?? false;
  }

  /** Every instance alive now, this one first, with its named counts. */
  instances(): { instance: string; counts: NamedCounts }[] {
    return this.#liveness?.instances() ?? [];
  }

  /** Resolves at the next heartbeat of another instance taken in. */
  heard(): Promise<void> {
    return this.#liveness?.next() ?? Promise.resolve();
  }

  /**
   * Disconnects from Redis. While Redis is down, it resolves once the
   * pending reconnection attempt has run out (at most `maxReconnectDelay`).
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#liveness?.stop(true);
      this.#liveness = undefined;
      this.#closed = true;
      this.#publisherUp = this.#subscriberUp = false;
      for (const connection of [this.#publisher, this.#subscriber]) {
        try {
          connection?.destroy();
        } catch {
          // Closed already.
        }
      }
    }
    // node-redis ends its connect loop (and its retry timer) after destroy.
    await Promise.allSettled(this.#connecting);
  }

  #receive(message: Buffer): void {
    const data = readMessage(message, this.#origin, false);
    if (data !== undefined) this.#sink?.deliver(data);
  }

  /**
   * A message on a topic's channel, from any process: a topic this
   * instance still subscribes to, a known kind, another instance's name,
   * valid UTF-8 for text; anything else is dropped.
   */
  #receiveTopic(message: Buffer, channel: Buffer): void {
    const prefix = this.#topicPrefix;
    const name = channel.toString();
    if (!name.startsWith(prefix)) return;
    const topic = name.slice(prefix.length);
    if (!this.#topics.has(topic)) return;
    const data = readMessage(message, this.#origin, true);
    if (data !== undefined) this.#sink?.deliverTopic(topic, data);
  }

  /** Subscribes to the channel of every topic with a subscriber here. */
  #subscribeTopics(): void {
    const subscriber = this.#subscriber;
    if (subscriber === undefined || this.#closed || this.#topics.size === 0) {
      return;
    }
    const prefix = this.#topicPrefix;
    this.#track(
      subscriber.subscribe(
        Array.from(this.#topics, (topic) => prefix + topic),
        this.#topicListener,
        true,
      ),
    );
  }

  /** Keeps a pub/sub command until Redis answers it; a failure is Redis's. */
  #track(command: Promise<unknown>): void {
    const tracked = command.catch(() => {}).finally(() =>
      this.#pending.delete(tracked)
    );
    this.#pending.add(tracked);
  }

  #beat(text: string): void {
    if (!this.connected) return;
    this.#publisher?.publish(channels.live(this.#channel), Buffer.from(text))
      .catch(() => {});
  }

  #heard(message: Buffer): void {
    const heartbeat = decodeHeartbeat(decoder.decode(message));
    if (heartbeat !== null) this.#liveness?.heard(heartbeat);
  }

  #direct(message: Buffer): void {
    const direct = readDirect(message, this.instance);
    if (direct !== null) this.#sink?.receive?.(direct.from, direct.data);
  }

  #drop(): void {
    this.#dropped++;
    this.#droppedWhileDown++;
  }

  #up(which: "publisher" | "subscriber"): void {
    if (this.#closed) return;
    if (which === "publisher") this.#publisherUp = true;
    else this.#subscriberUp = true;
    if (!this.connected) return;
    this.#ready.resolve();
    const dropped = this.#droppedWhileDown;
    this.#droppedWhileDown = 0;
    this.#liveness?.recovered();
    if (this.#down || dropped > 0) {
      this.#down = false;
      this.#sink?.recovered(dropped);
    }
  }

  #failed(which: "publisher" | "subscriber", thrown: unknown): void {
    if (this.#closed) return;
    if (which === "publisher") this.#publisherUp = false;
    else this.#subscriberUp = false;
    if (this.#down) return;
    this.#down = true;
    const error = toError(thrown);
    this.#sink?.failed(
      new Error(`Redis ${which} at ${redacted(this.#url)}: ${error.message}`, {
        cause: error,
      }),
    );
  }
}

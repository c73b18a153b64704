/**
 * Backplanes carry `wss.broadcast` between the instances of a server, so
 * that a broadcast reaches every client, whichever instance it is connected
 * to. `BroadcastChannelBackplane` joins the workers of one process (`deno
 * serve --parallel`); `RedisBackplane` (`@ws4d/websocket/redis`) joins
 * processes and machines. Write your own by implementing {@linkcode Backplane}.
 *
 * @example Two servers in one process share a channel
 * ```ts
 * import { BroadcastChannelBackplane, WebSocketServer } from "@ws4d/websocket";
 *
 * const handler = { onConnection: () => ({ onMessage() {} }) };
 * const a = new WebSocketServer(handler, {
 *   backplane: new BroadcastChannelBackplane("chat"),
 * });
 * const b = new WebSocketServer(handler, {
 *   backplane: new BroadcastChannelBackplane("chat"),
 * });
 * a.broadcast("hello"); // b's clients get it too
 * await Promise.all([a.terminate(), b.terminate()]);
 * ```
 *
 * @module
 */

import {
  createInstanceId,
  decodeHeartbeat,
  type Heartbeat,
  isInstanceId,
  Liveness,
} from "./_liveness.ts";

/**
 * Named counts, as an instance's heartbeat carries them:
 * `{ connections: 3, sessionsWaiting: 1 }`.
 */
export type NamedCounts = Readonly<Record<string, number>>;

/** A broadcast as a backplane carries it: a text or a binary message. */
export type BackplaneData = string | Uint8Array;

/**
 * What the server gives its backplane: where to hand the broadcasts of the
 * other instances, and where to report the backplane's own failures.
 */
export interface BackplaneSink {
  /** A broadcast of another instance: sent to every local connection. */
  deliver(data: BackplaneData): void;
  /**
   * A publish of another instance to `topic`: sent to the local
   * subscribers of `topic`. What is not a valid topic (SPEC.md, "Topics")
   * or not text or bytes is ignored.
   */
  deliverTopic(topic: string, data: BackplaneData): void;
  /**
   * The backplane is down: reported once to the server's `onError`
   * (`BackplaneFailed`); broadcasts stay local until it recovers.
   */
  failed(error: Error): void;
  /**
   * The backplane is back; `dropped` broadcasts did not reach the other
   * instances while it was down (reported to the server's `onError`).
   */
  recovered(dropped: number): void;
  /**
   * A message that another instance sent to this one alone
   * ({@linkcode Backplane.sendTo}): `from` is its id. Anything may arrive
   * here (a foreign publisher): the server reads it with care. `data` may
   * be a view of the backplane's memory, good for the call: the server
   * copies what it keeps.
   */
  receive?(from: string, data: Uint8Array): void;
  /** `instance` is gone: silent past the bound, or it said goodbye. */
  gone?(instance: string): void;
  /** This instance's named counts, which its heartbeats carry. */
  counts?(): NamedCounts;
}

/**
 * Carries broadcasts (and, with `publishTopic`, publishes to topics)
 * between the instances of a server that share its channel. An
 * implementation delivers each broadcast and publish of another instance
 * exactly once, in the order that instance published them, and never hands
 * an instance its own back.
 */
export interface Backplane {
  /** Called once, by the server that was given this backplane. */
  start(sink: BackplaneSink): void;
  /**
   * Sends a broadcast to the other instances. It never throws: what cannot
   * be sent is counted and reported through the sink. `data` may be a view
   * of the caller's memory: copy it before returning if it is kept.
   */
  publish(data: BackplaneData): void;
  /**
   * Sends a publish to `topic` to the other instances (`wss.publish`), in
   * order with the broadcasts; the same rules as `publish`. A backplane
   * without it carries no topic: `wss.publish` then reaches the subscribers
   * of this instance only.
   */
  publishTopic?(topic: string, data: BackplaneData): void;
  /**
   * `topic` got its first subscriber on this instance: a backplane that
   * routes (Redis) starts carrying the topic's publishes here. Without it,
   * the backplane delivers every topic's publishes, and the instance drops
   * those with no subscriber here.
   */
  subscribe?(topic: string): void;
  /** `topic` lost its last subscriber on this instance. */
  unsubscribe?(topic: string): void;
  /** Called by the server's `terminate()`: stops and frees what it holds. */
  close(): Promise<void>;
  /**
   * This instance's id on the channel (8 base64url characters), set from
   * its construction. With {@linkcode Backplane.sendTo} and
   * {@linkcode Backplane.alive}, it lets a session resume on any instance
   * (a relay, see `docs/cluster.md`); a backplane without them keeps
   * working, and a reconnect to another instance then gets `resumed:
   * false`.
   */
  readonly instance?: string;
  /**
   * Sends `data` to the instance `to` alone, in order with what this
   * instance sent it before. It never throws: `false` when it could not
   * be sent now (the backplane is down, or more waits to go out than it
   * holds); the caller counts that as a break.
   */
  sendTo?(to: string, data: Uint8Array): boolean;
  /**
   * Whether `instance` is alive: heard within the bound of the heartbeat
   * (see `HEARTBEAT_MS`, `GONE_AFTER_MS` in `docs/cluster.md`).
   */
  alive?(instance: string): boolean;
  /** Every instance alive now, this one first, with its named counts. */
  instances?(): { instance: string; counts: NamedCounts }[];
  /**
   * Resolves once the next heartbeat (or goodbye) of another instance has
   * been taken in: {@linkcode Backplane.instances}, and so
   * `wss.clusterStats`, then says what it carried. At once when closed;
   * never while no other instance beats, so bound the wait. For a reader of
   * the whole server's counts that wants them fresh (the chat's
   * `/stats?fresh`).
   */
  heard?(): Promise<void>;
  /**
   * `false` while the backplane cannot reach the other instances (Redis
   * down): a resume offered meanwhile to an instance that does not hold
   * its session is answered 503, which the client retries, rather than
   * given a fresh session.
   */
  readonly connected?: boolean;
}

/**
 * A backplane over `BroadcastChannel`, built into Deno: it joins the workers
 * of one process, which is what `deno serve --parallel` starts (one per
 * core). It does not cross processes or Deno Deploy instances: use
 * `RedisBackplane` for those.
 *
 * @example The chat under `deno serve --parallel`
 * ```ts
 * import { BroadcastChannelBackplane, WebSocketServer } from "@ws4d/websocket";
 *
 * const wss = new WebSocketServer({
 *   onConnection: () => ({
 *     onMessage: (ws, event) => ws.wss.broadcast(event.data, { except: ws }),
 *   }),
 * }, { backplane: new BroadcastChannelBackplane("ws4d-chat") });
 * export default { fetch: wss.fetch };
 * await wss.terminate();
 * ```
 */
export class BroadcastChannelBackplane implements Backplane {
  readonly #name: string;
  #channel: BroadcastChannel | undefined;
  /** Heartbeats: who is alive on the channel. */
  #live: BroadcastChannel | undefined;
  /** What other instances send to this one alone. */
  #inbox: BroadcastChannel | undefined;
  /** The inboxes of the other instances this one sends to. */
  readonly #outboxes = new Map<string, BroadcastChannel>();
  #liveness: Liveness | undefined;
  #closed = false;
  /** This instance's id on the channel. */
  readonly instance: string;

  /**
   * Makes a backplane on the channel `name`; the server opens it.
   *
   * @param name The channel: instances with the same name share broadcasts.
   * @throws {TypeError} When `name` is not a non-empty string.
   */
  constructor(name = "ws4d") {
    if (typeof name !== "string" || name === "") {
      throw new TypeError(
        "Cannot create BroadcastChannelBackplane: name must be a non-empty string",
      );
    }
    this.#name = name;
    this.instance = createInstanceId();
  }

  /** The channel name. */
  get name(): string {
    return this.#name;
  }

  /**
   * Opens the channel; what other instances publish goes to `sink`.
   *
   * @throws {Error} When it was started already.
   */
  start(sink: BackplaneSink): void {
    if (this.#channel !== undefined || this.#closed) {
      throw new Error(
        "Cannot start BroadcastChannelBackplane: a backplane serves one server",
      );
    }
    const channel = new BroadcastChannel(this.#name);
    channel.onmessage = (event: MessageEvent<unknown>) => {
      const data = event.data;
      if (typeof data === "string" || data instanceof Uint8Array) {
        sink.deliver(data);
      } else if (Array.isArray(data) && data.length === 2) {
        // A publish: [topic, data]; the sink checks both.
        const [topic, payload]: unknown[] = data;
        if (
          typeof topic === "string" &&
          (typeof payload === "string" || payload instanceof Uint8Array)
        ) sink.deliverTopic(topic, payload);
      }
    };
    channel.onmessageerror = () => {
      sink.failed(new Error("A broadcast could not be read from the channel"));
    };
    this.#channel = channel;
    const live = new BroadcastChannel(`${this.#name}\u0000live`);
    const inbox = new BroadcastChannel(inboxName(this.#name, this.instance));
    const liveness = new Liveness(this.instance, {
      beat: (text) => live.postMessage(text),
      counts: () => sink.counts?.() ?? {},
      gone: (instance) => {
        this.#outboxes.get(instance)?.close();
        this.#outboxes.delete(instance);
        sink.gone?.(instance);
      },
    });
    live.onmessage = (event: MessageEvent<unknown>) => {
      const heartbeat: Heartbeat | null = decodeHeartbeat(event.data);
      if (heartbeat !== null) liveness.heard(heartbeat);
    };
    inbox.onmessage = (event: MessageEvent<unknown>) => {
      const message: unknown = event.data;
      if (!Array.isArray(message) || message.length !== 2) return;
      const [from, data]: unknown[] = message;
      if (isInstanceId(from) && data instanceof Uint8Array) {
        sink.receive?.(from, data);
      }
    };
    this.#live = live;
    this.#inbox = inbox;
    this.#liveness = liveness;
  }

  /** Posts a broadcast to the other workers. */
  publish(data: BackplaneData): void {
    this.#channel?.postMessage(data);
  }

  /**
   * Posts a publish to `topic` to the other workers, on the same channel
   * as the broadcasts (so in order with them), as `[topic, data]`. Every
   * worker receives it; one with no subscriber to `topic` drops it.
   */
  publishTopic(topic: string, data: BackplaneData): void {
    this.#channel?.postMessage([topic, data]);
  }

  /** Posts `data` to the inbox of the instance `to`. */
  sendTo(to: string, data: Uint8Array): boolean {
    if (this.#liveness === undefined || !isInstanceId(to)) return false;
    let outbox = this.#outboxes.get(to);
    if (outbox === undefined) {
      outbox = new BroadcastChannel(inboxName(this.#name, to));
      this.#outboxes.set(to, outbox);
    }
    outbox.postMessage([this.instance, data]);
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

  /** Resolves at the next heartbeat of another worker taken in. */
  heard(): Promise<void> {
    return this.#liveness?.next() ?? Promise.resolve();
  }

  /** Says goodbye and closes the channels. */
  close(): Promise<void> {
    this.#closed = true;
    this.#liveness?.stop(true);
    this.#liveness = undefined;
    for (
      const channel of [
        this.#channel,
        this.#live,
        this.#inbox,
        ...this.#outboxes.values(),
      ]
    ) channel?.close();
    this.#outboxes.clear();
    this.#channel = this.#live = this.#inbox = undefined;
    return Promise.resolve();
  }
}

/** The channel of an instance's inbox. */
function inboxName(name: string, instance: string): string {
  return `${name}\u0000to\u0000${instance}`;
}

/**
 * The sessions of one server, wired together: their registry (live,
 * connected, resumable), their topics, their upgrade (and resume), their
 * admission (its answers counted), their fan-out (`broadcast`, `publish`,
 * counted) and what the backplane delivers to them. `WebSocketServer` holds
 * one and answers what it asks through a {@linkcode SessionsHost}: its
 * reports, its state, the making of a connection and the call of
 * `onConnection`.
 *
 * @module
 */
import { Admission } from "./_admission.ts";
import { backplaneSink } from "./_backplane_sink.ts";
import type { Encoded } from "./_codec.ts";
import { Fanout } from "./_fanout.ts";
import type { ResolvedServerOptions } from "./_options.ts";
import { LocalRegistry, type SessionRegistry } from "./_registry.ts";
import type { Session } from "./_session.ts";
import type { SessionSettings } from "./_session_settings.ts";
import {
  clusterCounts,
  sumCounts,
  type WSClusterStats,
  type WSServerCounts,
} from "./_stats.ts";
import { Topics } from "./_topics.ts";
import type { WSError, WSRequest } from "./_types.ts";
import { Upgrader } from "./_upgrade.ts";
import { Shutdown, type ShutdownParts } from "./_shutdown.ts";
import type { WSFetchInit, WSFetchRequest } from "./_server_types.ts";

/** What the sessions ask of their server (`T`: its connections). */
export interface SessionsHost<T, X> {
  /** Reports to the server's `onError`. */
  report(statusText: string, errors: readonly WSError[]): void;
  /** `terminate()` was called: nothing more is admitted. */
  terminated(): boolean;
  /** Makes the connection of a new session, its target. */
  open(
    session: Session<T>,
    request: WSRequest,
    protocol: string,
    context: X,
    topics: Topics<T, Session<T>>,
  ): void;
  /** Calls `onConnection` for an upgrade request. */
  onConnection(request: WSRequest, context: X, headers: Headers): unknown;
}

/** The sessions of one server (`T`: its connections; `X`: their context). */
export class ServerSessions<T, X> {
  /** The live, connected and resumable sessions. */
  readonly registry: SessionRegistry<Session<T>> = new LocalRegistry();
  /** Who subscribes to what, on this instance (docs/topics.md). */
  readonly topics: Topics<T, Session<T>>;
  /** An admitted request becomes a session; a resume's socket its link. */
  readonly upgrader: Upgrader<T, X>;
  /** An upgrade request before any socket. */
  readonly admission: Admission<Session<T>, X>;
  /** `broadcast` and `publish`, here and through the backplane. */
  readonly fanout: Fanout<T>;
  /** The `path` pattern, or `undefined` for every path. */
  readonly pattern: URLPattern | undefined;
  readonly #options: ResolvedServerOptions;
  readonly #stats: WSServerCounts;
  readonly #host: SessionsHost<T, X>;
  readonly #shutdown = new Shutdown();

  constructor(
    options: ResolvedServerOptions,
    stats: WSServerCounts,
    host: SessionsHost<T, X>,
  ) {
    const registry = this.registry;
    const backplane = options.backplane;
    this.#options = options;
    const pattern = this.pattern = options.path === undefined
      ? undefined
      : new URLPattern({ pathname: options.path });
    this.#stats = stats;
    this.#host = host;
    this.fanout = new Fanout(backplane);
    const topics = this.topics = new Topics(options.maxSubscriptions, {
      first: (topic) => backplane?.subscribe?.(topic),
      last: (topic) => backplane?.unsubscribe?.(topic),
    });
    const settings: SessionSettings<T> = {
      side: "server",
      dataType: options.dataType,
      maxMessageSize: options.maxMessageSize,
      maxBufferedAmount: options.maxBufferedAmount,
      closeTimeout: options.closeTimeout * 1000,
      stats,
      rateLimit: options.rateLimit,
      owner: {
        fallback: (errors) => host.report("connection error", errors),
        connected: (session) => registry.connect(session, true),
        left: (session) => {
          registry.connect(session, false);
          topics.leave(session);
        },
        unresumable: (session) => this.upgrader.forget(session),
        done: (session) => {
          registry.remove(session);
          topics.leave(session);
          this.upgrader.forget(session);
          stats.connections--;
          this.admission.release(session);
          this.#shutdown.left(registry.live.size);
        },
      },
    };
    this.upgrader = new Upgrader(options, registry, settings, stats, {
      open: (session, request, protocol, context) =>
        host.open(session, request, protocol, context, topics),
    });
    this.admission = new Admission(options, pattern, stats, {
      terminated: () => host.terminated(),
      liveCount: () => registry.live.size,
      onConnection: (request, context, headers) =>
        host.onConnection(request, context, headers),
      resume: (request) => this.upgrader.resume(request),
      upgrade: (request, wsRequest, accepted) =>
        this.upgrader.upgrade(request, wsRequest, accepted),
      report: (statusText, errors) => host.report(statusText, errors),
    });
  }

  /** Starts hearing what the backplane delivers, if there is one. */
  listen(): void {
    const stats = this.#stats;
    const topics = this.topics;
    const upgrader = this.upgrader;
    this.#options.backplane?.start(
      backplaneSink(
        this.registry.connected,
        stats,
        (statusText, errors) => this.#host.report(statusText, errors),
        (topic, data) => {
          stats.publishDeliveries += topics.deliver(topic, data, undefined);
        },
        // The relays exist once resume's code has loaded (`ready`); no
        // message comes to this instance alone before its first session.
        {
          receive: (from, data) => upgrader.cluster?.receive(from, data),
          gone: (instance) => upgrader.cluster?.gone(instance),
        },
        () => clusterCounts(stats, topics.counts()),
      ),
    );
  }

  /** Admits `request`; an answer that is no upgrade, on this path, counted. */
  answer(
    request: Request | WSFetchRequest,
    info: unknown,
    init: WSFetchInit<X> | undefined,
  ): Response | Promise<Response> {
    if (!(request instanceof Request)) {
      throw new TypeError(
        "Cannot handle request: request must be the runtime's own Request",
      );
    }
    // A resuming server's first requests wait for resume's code.
    const ready = this.upgrader.ready;
    if (ready !== undefined) {
      return ready.then(() => this.answer(request, info, init));
    }
    // `WSFetchRest` makes `init` required whenever `X` excludes undefined.
    const context = init?.context as X;
    const answer = this.admission.admit(request, info, context);
    return answer instanceof Response
      ? this.#counted(answer)
      : answer.then(this.#counted);
  }

  #counted = (response: Response): Response => {
    const status = response.status;
    if (status !== 101 && status !== 404) {
      const refused = this.#stats.refused;
      refused[status] = (refused[status] ?? 0) + 1;
    }
    return response;
  };

  /** `data` to every connected session but `except`'s, counted. */
  broadcast(data: Encoded, except: T | undefined): number {
    const count = this.fanout.broadcast(data, this.registry.connected, except);
    const stats = this.#stats;
    stats.broadcasts++;
    stats.broadcastDeliveries += count;
    return count;
  }

  /** `data` to the subscribers of `topic` but `except`, counted. */
  publish(topic: string, data: Encoded, except: T | undefined): number {
    const count = this.topics.deliver(topic, data, except);
    this.fanout.publishTopic(topic, data);
    const stats = this.#stats;
    stats.publishes++;
    stats.publishDeliveries += count;
    return count;
  }

  /**
   * Closes every session with 1001 and waits for them up to `ms`, then
   * ends the server with what `parts` give (docs/server.md).
   */
  shutdown(
    ms: number,
    parts: Pick<ShutdownParts, "signals" | "stopListening" | "terminated">,
  ): Promise<void> {
    return this.#shutdown.run(ms, {
      ...parts,
      cluster: this.upgrader.cluster,
      sessions: this.registry.live,
      backplane: this.#options.backplane,
      settled: () => this.fanout.settled(),
    });
  }

  /** The counts of this instance and of every other alive on the backplane. */
  clusterStats(): WSClusterStats {
    const own = clusterCounts(this.#stats, this.topics.counts());
    const instances = this.#options.backplane?.instances?.() ?? [];
    return sumCounts(
      instances.length === 0 ? [{ instance: "", counts: own }] : instances,
    );
  }
}

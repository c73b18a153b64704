/**
 * The sessions of one server, wired together: their registry (live,
 * connected, resumable), their topics, their upgrade (and resume) and their
 * admission. `WebSocketServer` holds one and answers what it asks through a
 * {@linkcode SessionsHost}: its reports, its state, the making of a
 * connection and the call of `onConnection`.
 *
 * @module
 */
import { Admission } from "./_admission.ts";
import type { ResolvedServerOptions } from "./_options.ts";
import { LocalRegistry, type SessionRegistry } from "./_registry.ts";
import type { Session } from "./_session.ts";
import type { SessionSettings } from "./_session_settings.ts";
import type { WSServerCounts } from "./_stats.ts";
import { Topics } from "./_topics.ts";
import type { WSError, WSRequest } from "./_types.ts";
import { Upgrader } from "./_upgrade.ts";

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
  /** A session ended: `live` are left. */
  ended(live: number): void;
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

  constructor(
    options: ResolvedServerOptions,
    pattern: URLPattern | undefined,
    stats: WSServerCounts,
    host: SessionsHost<T, X>,
  ) {
    const registry = this.registry;
    const backplane = options.backplane;
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
          host.ended(registry.live.size);
        },
      },
    };
    this.upgrader = new Upgrader(options, registry, settings, stats, {
      open: (session, request, protocol, context) =>
        host.open(session, request, protocol, context, topics),
      readmit: (request, info, context) =>
        this.admission.admit(request, info, context),
    });
    this.admission = new Admission(options, pattern, stats, {
      terminated: () => host.terminated(),
      liveCount: () => registry.live.size,
      onConnection: (request, context, headers) =>
        host.onConnection(request, context, headers),
      resume: (request, info, context) =>
        this.upgrader.resume(request, info, context),
      upgrade: (request, wsRequest, accepted) =>
        this.upgrader.upgrade(request, wsRequest, accepted),
      report: (statusText, errors) => host.report(statusText, errors),
    });
  }
}

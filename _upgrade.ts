/**
 * A server's upgrades: an admitted request becomes a session on a socket
 * link (its subprotocol, resume's negotiation, its token, its place in the
 * registry, its connection); a resume's socket becomes the new link of the
 * session its token names.
 *
 * @module
 */
import { toError } from "./_errors.ts";
import { chooseProtocol, plain } from "./_handshake.ts";
import { SocketLink } from "./_link.ts";
import type { ResolvedServerOptions } from "./_options.ts";
import type { Accepted } from "./_admission.ts";
import type { SessionRegistry } from "./_registry.ts";
import { Resumption } from "./_resume.ts";
import {
  createToken,
  isSameToken,
  parseProtocols,
  RESUME_PROTOCOL,
  RESUME_QUERY,
  takeResumeQuery,
  tokenSelector,
} from "./_resume_handshake.ts";
import type { Session } from "./_session.ts";
import type { SessionSettings } from "./_session_settings.ts";
import { ServerSession } from "./_server_session.ts";
import type { WSServerCounts } from "./_stats.ts";
import type { WSRequest } from "./_types.ts";

/** Makes the connection of a new session, its target. */
export interface ConnectionMaker<T, X> {
  open(
    session: Session<T>,
    request: WSRequest,
    protocol: string,
    context: X,
  ): void;
}

/**
 * The headers of the handshake, which the server sets: `onConnection`'s
 * `responseHeaders` cannot change them.
 */
const HANDSHAKE_HEADERS: ReadonlySet<string> = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/** One server's upgrades (`T`: its connections; `X`: their context). */
export class Upgrader<T, X> {
  readonly #options: ResolvedServerOptions;
  readonly #registry: SessionRegistry<Session<T>>;
  readonly #settings: SessionSettings<T>;
  readonly #stats: WSServerCounts;
  readonly #connections: ConnectionMaker<T, X>;

  /**
   * @param connections Makes the connection of a new session (its target).
   */
  constructor(
    options: ResolvedServerOptions,
    registry: SessionRegistry<Session<T>>,
    settings: SessionSettings<T>,
    stats: WSServerCounts,
    connections: ConnectionMaker<T, X>,
  ) {
    this.#options = options;
    this.#registry = registry;
    this.#settings = settings;
    this.#stats = stats;
    this.#connections = connections;
  }

  /**
   * Attaches the socket of a resume to its session: the token names a
   * session this server holds (compared in constant time), not over, and
   * the count the client offers is one it can resume from. Otherwise
   * `undefined`: the handshake goes on as a fresh one.
   */
  resume(request: Request): Response | undefined {
    const offer = parseProtocols(request.headers.get("sec-websocket-protocol"))
      .resume;
    if (offer === null || offer.token === null) return undefined;
    const session = this.#registry.find(tokenSelector(offer.token));
    const resumption = session?.resumption;
    if (
      !(session instanceof ServerSession) || resumption === null ||
      resumption === undefined ||
      !isSameToken(resumption.token, offer.token) ||
      !session.canResume(offer.received)
    ) {
      return undefined;
    }
    const upgraded = this.#upgradeSocket(request);
    if (upgraded instanceof Response) return upgraded;
    upgraded.response.headers.set("sec-websocket-protocol", RESUME_PROTOCOL);
    this.#stats.sessionsResumed++;
    session.resumeWith(
      new SocketLink(upgraded.socket, true),
      offer.received,
    );
    return upgraded.response;
  }

  /** Upgrades `request`, or answers 400 where Deno refuses to. */
  #upgradeSocket(
    request: Request,
  ): { socket: WebSocket; response: Response } | Response {
    try {
      return Deno.upgradeWebSocket(request, {
        idleTimeout: this.#options.idleTimeout,
      });
    } catch (thrown) {
      return plain(400, `Bad Request: ${toError(thrown).message}`);
    }
  }

  /** `session`'s token names it no more (it ended, or was declined). */
  forget(session: Session<T>): void {
    const resumption = session.resumption;
    if (resumption === null) return;
    this.#registry.forget(session, tokenSelector(resumption.token));
  }

  /**
   * Upgrades `request` for an accepted handler: the server makes a typed
   * session first, then its connection (with its context), registers the
   * session and attaches the socket; the 101 answer carries the headers
   * `onConnection` added, but the handshake's own.
   */
  upgrade(
    request: Request,
    wsRequest: WSRequest,
    accepted: Accepted<X>,
  ):
    | { session: Session<T>; response: Response }
    | Response {
    const offered = parseProtocols(
      request.headers.get("sec-websocket-protocol"),
    );
    const protocol = chooseProtocol(offered.rest, this.#options.protocols);
    const limits = this.#options.resume;
    const queryOffer = limits !== null && request.url.includes(RESUME_QUERY) &&
      takeResumeQuery(new URL(request.url).search).offered;
    const upgraded = this.#upgradeSocket(request);
    if (upgraded instanceof Response) return upgraded;
    for (const [name, value] of accepted.headers) {
      if (!HANDSHAKE_HEADERS.has(name)) {
        upgraded.response.headers.append(name, value);
      }
    }
    let resumption: Resumption | null = null;
    if (protocol !== "") {
      upgraded.response.headers.set("sec-websocket-protocol", protocol);
    } else if (
      limits !== null &&
      (offered.resume !== null || (offered.rest === null && queryOffer))
    ) {
      // Offered in the subprotocols, the client knows at open; in the
      // query, at the hello, and the session is its once it accepts.
      const accepted = offered.resume !== null;
      if (accepted) {
        upgraded.response.headers.set(
          "sec-websocket-protocol",
          RESUME_PROTOCOL,
        );
      }
      resumption = Resumption.server(
        limits,
        createToken(),
        accepted,
        this.#stats,
      );
    }
    const session = new ServerSession<T>(
      accepted.handler,
      this.#settings,
      resumption,
    );
    while (
      !this.#registry.add(
        session,
        resumption === null ? null : tokenSelector(resumption.token),
      )
    ) {
      if (resumption !== null) resumption.token = createToken();
    }
    this.#connections.open(session, wsRequest, protocol, accepted.context);
    const stats = this.#stats;
    stats.connections++;
    stats.connectionsTotal++;
    session.attach(new SocketLink(upgraded.socket, true));
    return { session, response: upgraded.response };
  }
}

/**
 * A server's upgrades: an admitted request becomes a session on a socket
 * link (its subprotocol, resume's negotiation, its token, its place in the
 * registry, its connection); a resume's socket becomes the new link of the
 * session its token names.
 *
 * Resume's code, and the cluster's relays, are loaded only by a server
 * that resumes (`import()` at its construction, which its first request
 * waits for): a plain server does without them (docs/architecture.md).
 *
 * @module
 */
import type { Cluster } from "./_cluster.ts";
import { toError } from "./_errors.ts";
import type { Link } from "./_link.ts";
import type { OpenRequest } from "./_relay_wire.ts";
import { chooseProtocol, plain } from "./_handshake.ts";
import { SocketLink } from "./_link.ts";
import type { ResolvedServerOptions } from "./_options.ts";
import type { Accepted } from "./_admission.ts";
import type { SessionRegistry } from "./_registry.ts";
import type { Resumption } from "./_resume.ts";
import {
  createToken,
  isSameToken,
  ownedToken,
  parseProtocols,
  RESUME_PROTOCOL,
  RESUME_QUERY,
  takeResumeQuery,
  tokenOwner,
  tokenSelector,
} from "./_resume_handshake.ts";
import type { Session } from "./_session.ts";
import type { SessionSettings } from "./_session_settings.ts";
import { ServerSession } from "./_server_session.ts";
import type { WSServerCounts } from "./_stats.ts";
import type { WSRequest } from "./_types.ts";

/** A resuming server's limits. */
type ResumeLimits = NonNullable<ResolvedServerOptions["resume"]>;

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
  /** The relays, where the backplane carries messages to one instance. */
  cluster: Cluster | undefined;
  /** Resume's limits and code, once loaded (where the server resumes). */
  #resume:
    | {
      readonly limits: ResumeLimits;
      readonly Resumption: typeof Resumption;
    }
    | undefined;
  /**
   * Pending while resume's code loads, and the cluster's where the
   * backplane relays; `undefined` once loaded, and where the server does
   * not resume. Requests wait for it.
   */
  ready: Promise<void> | undefined;

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
    if (options.resume !== null) this.ready = this.#load(options.resume);
  }

  /** Loads resume's code, and the cluster's where there is a backplane. */
  async #load(limits: ResumeLimits): Promise<void> {
    const options = this.#options;
    const [{ Resumption }, relays] = await Promise.all([
      import("./_resume.ts"),
      options.backplane === undefined ? undefined : import("./_cluster.ts"),
    ]);
    this.#resume = { limits, Resumption };
    const backplane = relays?.clusterBackplane(options.backplane);
    if (relays !== undefined && backplane !== undefined) {
      this.cluster = new relays.Cluster(backplane, {
        accept: (open, relay) => this.#acceptRelay(open, relay),
      }, options.maxBufferedAmount);
    }
    this.ready = undefined;
  }

  /** A new session's token: naming this instance in a cluster. */
  #newToken(): string {
    const cluster = this.cluster;
    return cluster === undefined ? createToken() : ownedToken(cluster.self);
  }

  /**
   * Attaches the socket of a resume to its session: the token names a
   * session this server holds (compared in constant time), not over, and
   * the count the client offers is one it can resume from; or relayed to
   * the instance that owns it. Otherwise `undefined`, at once or from the
   * relay's promise: the handshake goes on as a fresh one.
   */
  resume(
    request: Request,
  ): Response | Promise<Response | undefined> | undefined {
    const offer = parseProtocols(request.headers.get("sec-websocket-protocol"))
      .resume;
    if (offer === null || offer.token === null) return undefined;
    const owner = tokenOwner(offer.token);
    const cluster = this.cluster;
    if (cluster !== undefined && owner !== null && owner !== cluster.self) {
      return this.#relay(
        cluster,
        owner,
        offer.token,
        offer.received,
        request,
      );
    }
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

  /**
   * A resume whose session another instance owns: relayed there, the
   * answer of the socket where the owner resumes it; `undefined` (at once,
   * or from the promise) where it does not.
   */
  #relay(
    cluster: Cluster,
    owner: string,
    token: string,
    received: number,
    request: Request,
  ): Response | Promise<Response | undefined> | undefined {
    if (!cluster.reachable) {
      // Cut off from the owner for now (Redis down): the client retries.
      return plain(503, "Service Unavailable", { "retry-after": "1" });
    }
    if (!cluster.alive(owner)) return undefined;
    return cluster.relay(owner, token, received, () => {
      const upgraded = this.#upgradeSocket(request);
      if (!(upgraded instanceof Response)) {
        upgraded.response.headers.set(
          "sec-websocket-protocol",
          RESUME_PROTOCOL,
        );
      }
      return upgraded;
    });
  }

  /**
   * Owner side: the session an `open` names, where its proof holds (the
   * token's hash with the relay's id); the function resumes it onto the
   * relay's link. A client that holds the token but cannot resume from
   * its count gets a fresh session there: this one ends at once.
   */
  async #acceptRelay(
    open: OpenRequest,
    relay: string,
  ): Promise<((link: Link) => boolean) | null> {
    const session = this.#registry.find(open.selector);
    const resumption = session?.resumption;
    if (
      !(session instanceof ServerSession) || resumption === null ||
      resumption === undefined
    ) return null;
    // Loaded with the cluster's code, which calls this.
    const { tokenProof } = await import("./_relay_wire.ts");
    const proof = await tokenProof(resumption.token, relay);
    if (!isSameToken(proof, open.proof)) return null;
    if (!session.canResume(open.received)) {
      if (session.phase === "open") session.abandon();
      return null;
    }
    return (link) => {
      if (!session.canResume(open.received)) return false;
      this.#stats.sessionsResumed++;
      session.resumeWith(link, open.received);
      return true;
    };
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
    const resume = this.#resume;
    const queryOffer = resume !== undefined &&
      request.url.includes(RESUME_QUERY) &&
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
      resume !== undefined &&
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
      resumption = resume.Resumption.server(
        resume.limits,
        this.#newToken(),
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
      if (resumption !== null) resumption.token = this.#newToken();
    }
    this.#connections.open(session, wsRequest, protocol, accepted.context);
    const stats = this.#stats;
    stats.connections++;
    stats.connectionsTotal++;
    session.attach(new SocketLink(upgraded.socket, true));
    return { session, response: upgraded.response };
  }
}

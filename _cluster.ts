/**
 * One server's part in a cluster of instances that share a backplane with
 * messages to one instance (`Backplane.sendTo`): it routes the relay's
 * messages (`_relay_wire.ts`) to the relays of this instance, both as the
 * owner of sessions ({@linkcode RelayLink}) and as the instance a client
 * came back to ({@linkcode Relayer}), opens relays, and breaks them when
 * the other instance is gone.
 *
 * Finding a session's owner costs one message whatever the number of
 * instances: the token's first 8 characters name it (`tokenOwner`).
 *
 * @module
 */
import type { Link } from "./_link.ts";
import { GONE_AFTER_MS, HEARTBEAT_MS } from "./_liveness.ts";
import { type RelayChannel, Relayer, RelayLink } from "./_relay.ts";
import {
  createRelayId,
  encodeClose,
  encodeOpen,
  encodeRelay,
  Kind,
  type OpenRequest,
  readOpen,
  readRelay,
  relayIdBytes,
  tokenProof,
} from "./_relay_wire.ts";
import { tokenSelector } from "./_resume_handshake.ts";
import type { Backplane } from "./backplane.ts";

/** A backplane that carries messages to one instance. */
export interface ClusterBackplane {
  readonly instance: string;
  sendTo(to: string, data: Uint8Array): boolean;
  alive(instance: string): boolean;
  /** Whether it reaches the other instances now. */
  reachable(): boolean;
}

/** `backplane` where it carries messages to one instance, else `undefined`. */
export function clusterBackplane(
  backplane: Backplane | undefined,
): ClusterBackplane | undefined {
  if (backplane === undefined) return undefined;
  const { instance } = backplane;
  const sendTo = backplane.sendTo?.bind(backplane);
  const alive = backplane.alive?.bind(backplane);
  if (
    typeof instance !== "string" || sendTo === undefined ||
    alive === undefined
  ) return undefined;
  return {
    instance,
    sendTo,
    alive,
    reachable: () => backplane.connected !== false,
  };
}

/** What the owner of sessions checks of an `open`. */
export interface OwnerHost {
  /**
   * The session `open` names, if its proof holds: a function that resumes
   * it onto a link (`false` where it cannot any more), or `null`.
   */
  accept(
    open: OpenRequest,
    relay: string,
  ): Promise<((link: Link) => boolean) | null>;
}

/** An `open` this instance sent, waiting for the owner's answer. */
interface PendingOpen {
  readonly owner: string;
  readonly upgrade: () => { socket: WebSocket; response: Response } | Response;
  readonly resolve: (answer: Response | undefined) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** How long an `open` waits for its owner's answer (ms). */
export const OPEN_TIMEOUT_MS = GONE_AFTER_MS + 2 * HEARTBEAT_MS;
/** The relay ids an owner remembers having taken (a replay is refused). */
const REMEMBERED = 65536;

/** One server's relays, both ways. */
export class Cluster implements RelayChannel {
  readonly #backplane: ClusterBackplane;
  readonly #host: OwnerHost;
  readonly #limit: number;
  /** Owner side: the links of sessions relayed elsewhere, by id. */
  readonly #links = new Map<string, RelayLink>();
  /** Relaying side: the sockets relayed to their owner, by id. */
  readonly #relayers = new Map<string, Relayer>();
  readonly #pending = new Map<string, PendingOpen>();
  /** Owner side: every relay id taken, so a replayed `open` is refused. */
  readonly #taken = new Set<string>();
  #closed = false;

  /**
   * @param limit The most bytes a relayed client may hold (the server's
   * `maxBufferedAmount`).
   */
  constructor(backplane: ClusterBackplane, host: OwnerHost, limit: number) {
    this.#backplane = backplane;
    this.#host = host;
    this.#limit = limit;
  }

  /** This instance's id. */
  get self(): string {
    return this.#backplane.instance;
  }

  /** Whether the backplane reaches the other instances now. */
  get reachable(): boolean {
    return this.#backplane.reachable();
  }

  /** Whether `owner` is alive. */
  alive(owner: string): boolean {
    return this.#backplane.alive(owner);
  }

  sendTo(to: string, data: Uint8Array): boolean {
    return this.#backplane.sendTo(to, data);
  }

  forget(end: RelayLink | Relayer): void {
    if (end instanceof RelayLink) {
      if (this.#links.get(end.relay) === end) this.#links.delete(end.relay);
    } else if (this.#relayers.get(end.relay) === end) {
      this.#relayers.delete(end.relay);
    }
  }

  /**
   * Asks `owner` for the session of `token`: its answer is the upgrade of
   * the client's socket, relayed from now on; `undefined` where the owner
   * refused, is gone, or did not answer in time (a fresh session then).
   */
  async relay(
    owner: string,
    token: string,
    received: number,
    upgrade: PendingOpen["upgrade"],
  ): Promise<Response | undefined> {
    const relay = createRelayId();
    const proof = await tokenProof(token, relay);
    if (this.#closed) return undefined;
    const answer = Promise.withResolvers<Response | undefined>();
    const timer = setTimeout(
      () => this.#settle(relay, undefined),
      OPEN_TIMEOUT_MS,
    );
    this.#pending.set(relay, {
      owner,
      upgrade,
      resolve: answer.resolve,
      timer,
    });
    const open = encodeRelay(
      Kind.Open,
      relayIdBytes(relay),
      encodeOpen({ selector: tokenSelector(token), proof, received }),
    );
    if (!this.#backplane.sendTo(owner, open)) this.#settle(relay, undefined);
    return answer.promise;
  }

  #settle(relay: string, answer: Response | undefined): void {
    const pending = this.#pending.get(relay);
    if (pending === undefined) return;
    this.#pending.delete(relay);
    clearTimeout(pending.timer);
    pending.resolve(answer);
  }

  /** A message sent to this instance alone (the backplane's sink). */
  receive(from: string, data: Uint8Array): void {
    const message = readRelay(data);
    // Closed, it still hears its relays end (their sessions close through
    // them during the shutdown); an open is refused.
    if (message === null) return;
    const { kind, relay, payload } = message;
    switch (kind) {
      case Kind.Open: {
        const open = readOpen(payload);
        if (open !== null) void this.#opened(from, relay, open);
        return;
      }
      case Kind.Accepted:
      case Kind.Refused:
        this.#answered(from, relay, kind === Kind.Accepted);
        return;
      case Kind.Close: {
        const relayer = this.#relayers.get(relay);
        if (relayer?.owner === from) relayer.received(kind, payload);
        return;
      }
      default:
        this.#frame(from, relay, kind, payload);
    }
  }

  #frame(
    from: string,
    relay: string,
    kind:
      | typeof Kind.Text
      | typeof Kind.Binary
      | typeof Kind.Closed
      | typeof Kind.Buffered,
    payload: Uint8Array,
  ): void {
    const link = this.#links.get(relay);
    if (link !== undefined) {
      if (link.peer === from) link.received(kind, payload);
      return;
    }
    const relayer = this.#relayers.get(relay);
    if (relayer !== undefined) {
      if (relayer.owner === from) relayer.received(kind, payload);
      return;
    }
    if (kind === Kind.Text || kind === Kind.Binary) {
      // A relay this owner no longer has (it broke here): the client's
      // instance lets it go, and the client resumes again.
      this.#backplane.sendTo(
        from,
        encodeRelay(
          Kind.Close,
          relayIdBytes(relay),
          encodeClose({ code: 1012, reason: "relay ended", wasClean: false }),
        ),
      );
    }
  }

  /** The owner's answer to an `open` of this instance. */
  #answered(from: string, relay: string, accepted: boolean): void {
    const pending = this.#pending.get(relay);
    if (pending === undefined || pending.owner !== from) return;
    if (!accepted) {
      this.#settle(relay, undefined);
      return;
    }
    const upgraded = pending.upgrade();
    if (upgraded instanceof Response) {
      this.#backplane.sendTo(
        from,
        encodeRelay(
          Kind.Closed,
          relayIdBytes(relay),
          encodeClose({ code: 1006, reason: "", wasClean: false }),
        ),
      );
      this.#settle(relay, upgraded);
      return;
    }
    // Made now, before the owner's next message (its hello) is read.
    this.#relayers.set(
      relay,
      new Relayer(this, from, relay, upgraded.socket, this.#limit),
    );
    this.#settle(relay, upgraded.response);
  }

  /** Owner side: an `open` from another instance. */
  async #opened(from: string, relay: string, open: OpenRequest): Promise<void> {
    // By the id alone: the proof binds the token to the id, not to `from`
    // (what the sender wrote), so a replay is one whoever it claims to be.
    if (this.#taken.has(relay)) return; // A replay: no answer at all.
    this.#taken.add(relay);
    if (this.#taken.size > REMEMBERED) {
      this.#taken.delete(this.#taken.values().next().value!);
    }
    const attach = await this.#host.accept(open, relay);
    if (attach === null || this.#closed) {
      this.#backplane.sendTo(
        from,
        encodeRelay(Kind.Refused, relayIdBytes(relay)),
      );
      return;
    }
    if (
      !this.#backplane.sendTo(
        from,
        encodeRelay(Kind.Accepted, relayIdBytes(relay)),
      )
    ) {
      return;
    }
    const link = new RelayLink(this, from, relay);
    this.#links.set(relay, link);
    if (attach(link)) link.open();
    else {
      this.#links.delete(relay);
      link.close(1012, "relay refused");
    }
  }

  /** `instance` is gone: every relay with it breaks. */
  gone(instance: string): void {
    for (const link of [...this.#links.values()]) {
      if (link.peer === instance) link.broke();
    }
    for (const relayer of [...this.#relayers.values()]) {
      if (relayer.owner === instance) relayer.broke(false);
    }
    for (const [relay, pending] of this.#pending) {
      if (pending.owner === instance) this.#settle(relay, undefined);
    }
  }

  /**
   * This instance shuts down: the clients it relays are closed with 1012
   * (they resume elsewhere), their owners told a break, and no relay
   * opens any more. Sessions relayed to other instances close through
   * their links, as any other.
   */
  close(): void {
    this.#closed = true;
    for (const relayer of [...this.#relayers.values()]) relayer.broke(true);
    for (const relay of [...this.#pending.keys()]) {
      this.#settle(relay, undefined);
    }
  }
}

// This module is browser compatible.
/**
 * A client's session: a {@linkcode Session} that queues what is sent while
 * it connects, and with `reconnect`, connects again after an end that is
 * neither its own close nor a fatal error (SPEC.md, "Reconnecting"), on the
 * next link its dialer makes.
 *
 * @module
 */
import type { Encoded } from "./_codec.ts";
import type { Dialer } from "./_dialer.ts";
import { ErrorCode, wsError } from "./_errors.ts";
import { FIRST_OPEN, type Reconnector } from "./_reconnect.ts";
import type { Resumption } from "./_resume.ts";
import { Session } from "./_session.ts";
import type { SessionSettings } from "./_session_settings.ts";
import type { WSError } from "./_types.ts";

/** What only a client has. */
export interface ClientSettings {
  /** Messages that may wait while it connects. */
  readonly maxQueued: number;
  /**
   * With `reconnect`: whether and when to connect again, and the dialer
   * that makes the next link.
   */
  readonly reconnect?: {
    readonly policy: Reconnector;
    readonly dialer: Dialer;
  };
}

/** A client's session (`T`: the client). */
export class ClientSession<T> extends Session<T> {
  readonly #client: ClientSettings;
  /** Messages sent while connecting. */
  #outbox: Encoded[] | null = null;
  /** It waits to connect again (it has no link). */
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    handler: object,
    settings: SessionSettings<T>,
    client: ClientSettings,
    resume: Resumption | null,
  ) {
    super(handler, settings, resume);
    this.#client = client;
  }

  protected override queue(data: Encoded): boolean {
    if (this.status !== "Connecting") return false;
    const outbox = this.#outbox ??= [];
    if (outbox.length >= this.#client.maxQueued) return false;
    outbox.push(data);
    return true;
  }

  protected override queueFirst(data: Encoded[]): void {
    this.#outbox = [...data, ...this.#outbox ?? []];
  }

  protected override flushQueued(): void {
    const outbox = this.#outbox;
    if (outbox === null) return;
    this.#outbox = null;
    for (const data of outbox) this.write(data);
  }

  protected override openEvent(resumed: boolean): object {
    return this.#client.reconnect?.policy.opened(resumed) ?? FIRST_OPEN;
  }

  protected override withDropped(errors: WSError[]): WSError[] {
    const outbox = this.#outbox;
    if (outbox !== null && outbox.length > 0) {
      this.#outbox = null;
      errors.unshift(
        wsError(
          ErrorCode.MessagesDropped,
          `Cannot send ${outbox.length} queued message(s): the client ended before a connection opened`,
        ),
      );
    }
    return errors;
  }

  protected override connectionFailed(why: string, cause: unknown): void {
    const reconnect = this.#client.reconnect;
    let tries = "";
    if (reconnect !== undefined) {
      if (this.retry("failed", why)) return;
      const count = reconnect.policy.failures;
      tries = ` after ${count} ${count === 1 ? "try" : "tries"}`;
    }
    super.connectionFailed(why, cause, tries);
  }

  /**
   * It lost its connection, or could not make it: when the case is retried
   * and tries are left, it lets the link go, says why and when in
   * `onReconnecting`, and waits `"Connecting"`.
   *
   * @returns Whether it will connect again.
   */
  protected override retry(code: number | "failed", reason: string): boolean {
    const reconnect = this.#client.reconnect;
    if (reconnect === undefined) return false;
    const delay = reconnect.policy.next(code, reason);
    if (delay === null) return false;
    this.relink(null);
    // Set before onReconnecting runs: a terminate() in it ends the wait.
    this.#retryTimer = setTimeout(this.#connectAgain, delay * 1000);
    this.push("onReconnecting", {
      type: "reconnecting",
      code: code === "failed" ? 1006 : code,
      reason,
      attempt: reconnect.policy.attempt,
      delay,
    });
    return true;
  }

  /** The wait is over: the next try, on a new link. */
  #connectAgain = (): void => {
    this.#retryTimer = undefined;
    const dialed = this.#client.reconnect?.dialer.dial();
    if (dialed === undefined) return;
    if ("reason" in dialed) {
      // The runtime refused to make it: a try that failed.
      this.connectionFailed(dialed.reason, dialed.cause);
      return;
    }
    this.relink(dialed);
  };

  protected override waitsForLink(): boolean {
    return this.#retryTimer !== undefined || super.waitsForLink();
  }

  protected override stopRetrying(): void {
    if (this.#retryTimer === undefined) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }
}

// This module is browser compatible.
/**
 * How a session's end is told: the close it sent (plain data, made at its
 * first close or fault, so an idle session carries none), the phase a fatal
 * error moves it to, and the events of `onError` and `onTerminate`, counted.
 * The session (`_session.ts`) decides when; this module says what.
 *
 * @module
 */
import { ErrorCode, wsError } from "./_errors.ts";
import type { Phase } from "./_phase.ts";
import type { SessionSettings } from "./_session_settings.ts";
import { countErrors, countLimits } from "./_stats.ts";
import type { WSClientStatus, WSError } from "./_types.ts";

/**
 * The code and reason of the close a session sent, or of the protocol error
 * its link failed the connection with: reported when the connection then
 * breaks, instead of 1006. With the timer that gives the connection up if
 * the peer does not answer.
 */
export interface SentClose {
  code: number;
  reason: string;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Notes a close sent with `code` and `reason`; the timer, if one runs, goes
 * on.
 *
 * @example
 * ```ts
 * import { noteClose } from "./_session_end.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const sent = noteClose(null, 1000, "bye");
 * assertEquals(noteClose(sent, 1001, "away"), sent);
 * assertEquals(sent.code, 1001);
 * ```
 */
export function noteClose(
  sent: SentClose | null,
  code: number,
  reason: string,
): SentClose {
  if (sent === null) return { code, reason, timer: undefined };
  sent.code = code;
  sent.reason = reason;
  return sent;
}

/**
 * Arms the timer that gives the connection up `ms` after a close if the peer
 * neither answers nor cuts (Deno keeps such a socket closing); one at most.
 */
export function giveUpAfter(
  sent: SentClose,
  ms: number | undefined,
  giveUp: () => void,
): void {
  if (ms === undefined || ms === Infinity) return;
  sent.timer ??= setTimeout(() => {
    sent.timer = undefined;
    giveUp();
  }, ms);
}

/** Stops the give-up timer: the connection ended. */
export function stopGivingUp(sent: SentClose): void {
  clearTimeout(sent.timer);
  sent.timer = undefined;
}

/**
 * The close to report instead of how the link ended, or null: where we
 * closed first (or the link failed a peer that broke the protocol) and the
 * peer then broke the handshake (Deno cuts on a data frame after its close
 * frame) or answered with no code (a Deno server socket when `deno serve`
 * shuts down with 1001), the connection ended with the code we sent.
 *
 * @example
 * ```ts
 * import { noteClose, sentInstead } from "./_session_end.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const sent = noteClose(null, 1001, "away");
 * const broke = { code: 1006, reason: "", wasClean: false };
 * assertEquals(sentInstead(broke, sent), sent);
 * assertEquals(sentInstead({ ...broke, code: 1000 }, sent), null);
 * ```
 */
export function sentInstead(
  end: { readonly code: number },
  sent: SentClose | null,
): SentClose | null {
  return (end.code === 1006 || end.code === 1005) ? sent : null;
}

/**
 * The phase a fatal error moves a session of `status` to: its status holds
 * while `onError` is dispatched, the close follows.
 *
 * @example
 * ```ts
 * import { failedPhase } from "./_session_end.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(failedPhase("Connected"), "faulted");
 * ```
 */
export function failedPhase(status: WSClientStatus): Phase {
  return status === "Connected"
    ? "faulted"
    : status === "Connecting"
    ? "refused"
    : "failing";
}

/**
 * The event of `onError` for `errors`, counted in the server's stats; null
 * when `handler` has no `onError` (the errors go to the owner's fallback).
 *
 * @example
 * ```ts
 * import { errorEvent } from "./_session_end.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const settings = {
 *   side: "client" as const,
 *   dataType: "text" as const,
 *   maxMessageSize: 1024,
 *   maxBufferedAmount: 1024,
 *   owner: { fallback() {} },
 * };
 * assertEquals(errorEvent({}, settings, []), null);
 * ```
 */
export function errorEvent<T>(
  handler: object,
  settings: SessionSettings<T>,
  errors: WSError[],
): object | null {
  const stats = settings.stats;
  if (stats !== undefined) countLimits(stats, errors);
  if (!("onError" in handler) || typeof handler.onError !== "function") {
    return null;
  }
  if (stats !== undefined) countErrors(stats, errors);
  return settings.side === "server"
    ? { type: "error", status: { HTTPError: 0, errors }, errors }
    : { type: "error", errors };
}

/**
 * The event of `onTerminate`, its code counted in the server's stats (a
 * client's event says `wasClean` too).
 *
 * @example
 * ```ts
 * import { terminateEvent } from "./_session_end.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const settings = {
 *   side: "server" as const,
 *   dataType: "text" as const,
 *   maxMessageSize: 1024,
 *   maxBufferedAmount: 1024,
 *   owner: { fallback() {} },
 * };
 * assertEquals(terminateEvent(settings, 1000, "", true), {
 *   type: "terminate",
 *   code: 1000,
 *   reason: "",
 * });
 * ```
 */
export function terminateEvent<T>(
  settings: SessionSettings<T>,
  code: number,
  reason: string,
  wasClean: boolean,
): object {
  const stats = settings.stats;
  if (stats !== undefined) stats.closes[code] = (stats.closes[code] ?? 0) + 1;
  return settings.side === "server"
    ? { type: "terminate", code, reason }
    : { type: "terminate", code, reason, wasClean };
}

/**
 * The error of a connection that could not be made.
 *
 * @param tries How many tries failed, said after the URL.
 * @example
 * ```ts
 * import { connectionFailure } from "./_session_end.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const error = connectionFailure("ws://h", " (3 tries)", "refused", null);
 * assertEquals(error.message, "Cannot connect to ws://h (3 tries): refused");
 * ```
 */
export function connectionFailure(
  url: string | undefined,
  tries: string,
  why: string,
  cause: unknown,
): WSError {
  return wsError(
    ErrorCode.ConnectionFailed,
    `Cannot connect to ${url ?? "the server"}${tries}: ${why}`,
    cause,
  );
}

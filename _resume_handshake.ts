// This module is browser compatible.
/**
 * Resume's wire format, its handshake: the token, and the negotiation in the
 * subprotocols and the query (the design: `_resume_frames.ts`). Pure: no socket, no
 * timer.
 *
 * @module
 */
import { encodeBase64Url } from "@std/encoding/base64url";

/** The subprotocol that negotiates version 1 of resuming. */
export const RESUME_PROTOCOL = "ws4d-resume.1";

/** Every subprotocol value of the package starts with this. */
export const OURS = "ws4d-resume.";

/**
 * The query parameter of a fresh offer: `?ws4d-resume=1`, which a server
 * that does not know it ignores (a subprotocol it did not choose would fail
 * the handshake in browsers, Node and Bun).
 */
export const RESUME_QUERY = "ws4d-resume";
/** The value of {@linkcode RESUME_QUERY} for this version. */
const RESUME_QUERY_VALUE = "1";

// ---------------------------------------------------------------------------
// The token

/** The length of the tokens this package makes: 27 bytes in base64url. */
export const TOKEN_LENGTH = 36;
/** The length of a token's selector, the part a server may index by. */
export const SELECTOR_LENGTH = 12;
/** Any token the wire carries: 16 to 128 characters of base64url. */
export const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * A new session token: 27 bytes (216 bits) from `crypto.getRandomValues`,
 * as 36 characters of base64url (no padding: 27 bytes are 36 characters
 * exactly, so no two spellings decode alike).
 *
 * @example
 * ```ts
 * import { createToken, TOKEN_LENGTH } from "./_resume_handshake.ts";
 * import { assertEquals, assertNotEquals } from "@std/assert";
 *
 * const token = createToken();
 * assertEquals(token.length, TOKEN_LENGTH);
 * assertNotEquals(token, createToken());
 * ```
 */
export function createToken(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(27)));
}

/**
 * The first {@linkcode SELECTOR_LENGTH} characters of `token`: a key for a
 * map of sessions, so that the secret itself is only ever compared by
 * {@linkcode isSameToken}. 72 random bits: a server with a million sessions
 * meets a collision once in 10^10 tokens; it should still check.
 *
 * @example
 * ```ts
 * import { tokenSelector } from "./_resume_handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(tokenSelector("abcdefghijkl0123456789012345678901234"), "abcdefghijkl");
 * ```
 */
export function tokenSelector(token: string): string {
  const owned = token.length === TOKEN_LENGTH + OWNER_LENGTH;
  return token.slice(0, SELECTOR_LENGTH + (owned ? OWNER_LENGTH : 0));
}

/** The length of the owner's id that starts a token of a cluster. */
export const OWNER_LENGTH = 8;

/**
 * A token that names the instance that holds its session: the instance's
 * id (8 characters), then a token of {@linkcode createToken}. Its selector
 * is the owner's id and the next 12 characters.
 *
 * @example
 * ```ts
 * import { ownedToken, tokenOwner, tokenSelector } from "./_resume_handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const token = ownedToken("instANCE");
 * assertEquals(token.length, 44);
 * assertEquals(tokenOwner(token), "instANCE");
 * assertEquals(tokenSelector(token).length, 20);
 * assertEquals(tokenOwner("abcdefghijkl0123456789012345678901234"), null);
 * ```
 */
export function ownedToken(owner: string): string {
  return owner + createToken();
}

/** The owner a token names, or `null` for a token of one instance. */
export function tokenOwner(token: string): string | null {
  return token.length === TOKEN_LENGTH + OWNER_LENGTH
    ? token.slice(0, OWNER_LENGTH)
    : null;
}

/**
 * Whether two tokens are the same, in a time that depends on their length
 * only (public: every token of this package has the same), never on where
 * they first differ.
 *
 * @example
 * ```ts
 * import { createToken, isSameToken } from "./_resume_handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const token = createToken();
 * assertEquals(isSameToken(token, token.slice()), true);
 * assertEquals(isSameToken(token, createToken()), false);
 * ```
 */
export function isSameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) {
    difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  }
  return difference === 0;
}

// ---------------------------------------------------------------------------
// The handshake

/** What a client offered for resuming, once parsed. */
export interface ResumeOffer {
  /**
   * The session the client asks to resume, or `null` for a fresh session:
   * none offered, or an offer that is malformed, repeated or forged in form.
   */
  readonly token: string | null;
  /** The count of data messages the client received in that session. */
  readonly received: number;
}

/** A `sec-websocket-protocol` header split into the package's and the rest. */
export interface ParsedProtocols {
  /**
   * The client's offer to resume, or `null` when it offers no resuming, or
   * offers it beside a subprotocol of its own (then it is not negotiated).
   */
  readonly resume: ResumeOffer | null;
  /**
   * The header without any value of the package (joined with ", "), or
   * `null` when nothing is left: what `request.headers` shows, and what the
   * server's own `protocols` are chosen from.
   */
  readonly rest: string | null;
}

/** `ws4d-resume.1.<token>.<received>`, received in decimal without zeros. */
const OFFER = /^ws4d-resume\.1\.([A-Za-z0-9_-]{16,128})\.(0|[1-9][0-9]{0,15})$/;

/**
 * Splits the raw `sec-websocket-protocol` header value of a handshake into
 * the client's resume offer and the other subprotocols. Every value starting
 * `ws4d-resume.` is taken out of `rest`, understood or not, so that nothing
 * of resuming shows in `request` or `protocol`.
 *
 * @param header The header's value, `null` when absent (several headers:
 * joined with ", ", as `Headers.get` does).
 * @returns The offer (`resume`) and what remains (`rest`).
 *
 * @example A reconnect, and a client with its own subprotocol
 * ```ts
 * import { parseProtocols } from "./_resume_handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const token = "A".repeat(36);
 * assertEquals(parseProtocols(`ws4d-resume.1, ws4d-resume.1.${token}.42`), {
 *   resume: { token, received: 42 },
 *   rest: null,
 * });
 * assertEquals(parseProtocols("chat, ws4d-resume.1"), {
 *   resume: null,
 *   rest: "chat",
 * });
 * ```
 */
export function parseProtocols(header: string | null): ParsedProtocols {
  if (header === null) return { resume: null, rest: null };
  if (!header.includes(OURS)) {
    const trimmed = header.trim();
    return { resume: null, rest: trimmed === "" ? null : trimmed };
  }
  const rest: string[] = [];
  let offered = false;
  let offers = 0;
  let offer: { token: string; received: number } | null = null;
  for (const item of header.split(",")) {
    const value = item.trim();
    if (value === "") continue;
    if (value === RESUME_PROTOCOL) {
      offered = true;
    } else if (value.startsWith(OURS)) {
      // Another version's values are ours too, and just as hidden.
      if (!value.startsWith(`${RESUME_PROTOCOL}.`)) continue;
      offers++;
      const match = OFFER.exec(value);
      const received = Number(match?.[2]);
      if (match !== null && received <= Number.MAX_SAFE_INTEGER) {
        offer = { token: match[1] as string, received };
      }
    } else {
      rest.push(value);
    }
  }
  const valid = offers === 1 && offer !== null;
  return {
    resume: offered && rest.length === 0
      ? valid ? offer : { token: null, received: 0 }
      : null,
    rest: rest.length === 0 ? null : rest.join(", "),
  };
}

/**
 * The subprotocols a client offers: {@linkcode RESUME_PROTOCOL}, and, to
 * resume a session, the value that carries its token and the count of
 * messages received in it.
 *
 * @example
 * ```ts
 * import { offerProtocols } from "./_resume_handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(offerProtocols(null), ["ws4d-resume.1"]);
 * const token = "A".repeat(36);
 * assertEquals(offerProtocols({ token, received: 7 }), [
 *   "ws4d-resume.1",
 *   `ws4d-resume.1.${token}.7`,
 * ]);
 * ```
 */
export function offerProtocols(
  session: { readonly token: string; readonly received: number } | null,
): string[] {
  if (session === null) return [RESUME_PROTOCOL];
  return [
    RESUME_PROTOCOL,
    `${RESUME_PROTOCOL}.${session.token}.${session.received}`,
  ];
}

/**
 * The URL a client connects to for a fresh offer: `url` with
 * `ws4d-resume=1` added to its query, the rest left as written.
 *
 * @example
 * ```ts
 * import { withResumeQuery } from "./_resume_handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(withResumeQuery("ws://h/chat"), "ws://h/chat?ws4d-resume=1");
 * assertEquals(withResumeQuery("ws://h/?room=a"), "ws://h/?room=a&ws4d-resume=1");
 * ```
 */
export function withResumeQuery(url: string): string {
  const query = url.indexOf("?");
  const separator = query === -1
    ? "?"
    : query === url.length - 1 || url.endsWith("&")
    ? ""
    : "&";
  return `${url}${separator}${RESUME_QUERY}=${RESUME_QUERY_VALUE}`;
}

/** A URL's query without the package's parameter, and whether it offered. */
export interface ResumeQuery {
  /** Whether the query offers resuming: `ws4d-resume=1`, once. */
  readonly offered: boolean;
  /**
   * The query (with its `?`, or `""`) without any `ws4d-resume` parameter,
   * the others as the client wrote them: what `request` shows.
   */
  readonly search: string;
}

/**
 * Takes the package's parameter out of a request's query (`search`, with
 * its `?`): every `ws4d-resume` parameter, understood or not, so that
 * nothing of resuming shows in `request`.
 *
 * @example
 * ```ts
 * import { takeResumeQuery } from "./_resume_handshake.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(takeResumeQuery("?room=a%20b&ws4d-resume=1"), {
 *   offered: true,
 *   search: "?room=a%20b",
 * });
 * assertEquals(takeResumeQuery("?ws4d-resume=2"), { offered: false, search: "" });
 * ```
 */
export function takeResumeQuery(search: string): ResumeQuery {
  if (!search.includes(RESUME_QUERY)) return { offered: false, search };
  const kept: string[] = [];
  let offers = 0;
  let valid = false;
  for (const item of search.slice(1).split("&")) {
    const equals = item.indexOf("=");
    const name = equals === -1 ? item : item.slice(0, equals);
    if (name !== RESUME_QUERY) {
      kept.push(item);
      continue;
    }
    offers++;
    valid = item.slice(equals + 1) === RESUME_QUERY_VALUE;
  }
  const rest = kept.join("&");
  return {
    offered: offers === 1 && valid,
    search: rest === "" ? "" : `?${rest}`,
  };
}

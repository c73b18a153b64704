/**
 * The upgrade handshake, as pure functions of the request: the checks Deno
 * does not make (RFC 6455 §4.2.1), the snapshot of the request that
 * `onConnection` sees (read before the upgrade: Deno closes the request once
 * `Deno.upgradeWebSocket` has run), the path's parameters and the choice of
 * a subprotocol. Request in, a `Response` or data out; no socket, no state.
 *
 * @module
 */
import {
  parseProtocols,
  RESUME_QUERY,
  takeResumeQuery,
} from "./_resume_handshake.ts";
import type { WSRequest } from "./_types.ts";

/** A plain-text answer. */
export function plain(
  status: number,
  text: string,
  headers?: HeadersInit,
): Response {
  return new Response(
    text,
    headers === undefined ? { status } : { status, headers },
  );
}

/** Sets an own property, even one named `__proto__`. */
function setOwn(target: Record<string, unknown>, name: string, value: unknown) {
  if (name === "__proto__") {
    Object.defineProperty(target, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[name] = value;
  }
}

/** A nonce of 16 bytes in base64 (RFC 6455 §4.1), as every client sends. */
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/**
 * The answer to a request that is no valid upgrade, or `undefined` for a
 * valid one: 426 with `Upgrade: websocket` for a plain request; for a
 * malformed handshake, which Deno would upgrade, 400 for a missing or
 * malformed key or a missing version, 426 naming version 13 for another.
 */
export function checkHandshake(headers: Headers): Response | undefined {
  if (headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return plain(426, "Upgrade Required", { upgrade: "websocket" });
  }
  const key = headers.get("sec-websocket-key");
  if (key === null || !KEY.test(key.trim())) {
    return plain(
      400,
      "Bad Request: Sec-WebSocket-Key must be 16 bytes in base64",
    );
  }
  const version = headers.get("sec-websocket-version");
  if (version === null) {
    return plain(400, "Bad Request: Sec-WebSocket-Version is missing");
  }
  if (version.trim() !== "13") {
    return plain(426, "Upgrade Required: Sec-WebSocket-Version must be 13", {
      "sec-websocket-version": "13",
    });
  }
  return undefined;
}

/**
 * The groups of `pattern` that match `url`, `{}` where there is no pattern,
 * or `null` where it does not match.
 */
export function matchPath(
  pattern: URLPattern | undefined,
  url: string,
): Record<string, string> | null {
  if (pattern === undefined) return {};
  const match = pattern.exec(url);
  if (match === null) return null;
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(match.pathname.groups)) {
    if (value !== undefined) setOwn(params, name, value);
  }
  return params;
}

/**
 * What `onConnection` sees of the request: headers as a plain object with
 * lower-case names (a repeated one joined with `", "`), the query (a
 * repeated parameter as an array), the path and query, the peer's address.
 */
export function readRequest(
  request: Request,
  remoteAddr: object | undefined,
  params: Record<string, string>,
): WSRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of request.headers) {
    // Only set-cookie comes apart when iterated; join it as the rest are.
    const before = Object.hasOwn(headers, name) ? headers[name] : undefined;
    setOwn(headers, name, before === undefined ? value : `${before}, ${value}`);
  }
  // Nothing of resuming shows in `request` (SPEC.md, "Resuming").
  const offered = headers["sec-websocket-protocol"];
  if (offered !== undefined && offered.includes("ws4d-resume.")) {
    const rest = parseProtocols(offered).rest;
    if (rest === null) delete headers["sec-websocket-protocol"];
    else headers["sec-websocket-protocol"] = rest;
  }
  const url = new URL(request.url);
  // Nor the query parameter of a fresh offer, whether the server resumes.
  if (url.search.includes(RESUME_QUERY)) {
    url.search = takeResumeQuery(url.search).search;
  }
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const before = Object.hasOwn(query, name) ? query[name] : undefined;
    if (before === undefined) setOwn(query, name, value);
    else if (typeof before === "string") setOwn(query, name, [before, value]);
    else before.push(value);
  }
  const hostname = remoteAddr !== undefined && "hostname" in remoteAddr
    ? remoteAddr.hostname
    : undefined;
  return {
    headers,
    query,
    url: url.pathname + url.search,
    remoteAddress: typeof hostname === "string" ? hostname : "",
    params,
  };
}

/**
 * The first of the server's `protocols` that the client offers, or `""`.
 * Offers are split on `","` with or without spaces: Deno's own `protocol`
 * option splits on `", "` only and throws for `"a,b"` (as npm:ws sends it),
 * so the server sets `sec-websocket-protocol` on the response itself.
 */
export function chooseProtocol(
  offer: string | null,
  protocols: readonly string[],
): string {
  if (offer === null || protocols.length === 0) return "";
  const offered = offer.split(",").map((item) => item.trim());
  for (const protocol of protocols) {
    if (offered.includes(protocol)) return protocol;
  }
  return "";
}

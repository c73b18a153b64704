/**
 * The upgrade handshake, as pure functions of the request: the checks Deno
 * does not make (RFC 6455 §4.2.1), the path's parameters and the choice of
 * a subprotocol (what `onConnection` sees of the request is
 * `_upgrade_request.ts`'s). Request in, a `Response` or data out; no socket, no state.
 *
 * @module
 */
import { setOwn } from "./_upgrade_request.ts";

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

/**
 * What `onConnection` and `ws.request` see of the upgrade request
 * ({@linkcode WSRequest}), read when first asked for. Deno forbids reading
 * a request once `Deno.upgradeWebSocket` has run, but the `Headers` it
 * has read into its own list stay readable: {@linkcode UpgradeRequest}
 * has Deno read them before the upgrade and keeps that `Headers` (which
 * Deno keeps for the connection's life anyway), so that a connection whose
 * headers nobody reads costs no copy of them, no `URL` and no query
 * object.
 *
 * @module
 */
import {
  parseProtocols,
  RESUME_QUERY,
  takeResumeQuery,
} from "./_resume_handshake.ts";
import type { WSRequest } from "./_types.ts";

/**
 * Sets an own property, even one named `__proto__`.
 *
 * @example
 * ```ts
 * import { setOwn } from "./_upgrade_request.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const target: Record<string, unknown> = {};
 * setOwn(target, "__proto__", 1);
 * assertEquals(Object.keys(target), ["__proto__"]);
 * ```
 */
export function setOwn(
  target: Record<string, unknown>,
  name: string,
  value: unknown,
): void {
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

/**
 * The headers as a plain object with lower-case names (a repeated one
 * joined with `", "`), without what resuming put in the subprotocols.
 */
function copyHeaders(source: Headers): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of source) {
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
  return headers;
}

/** The path and query of `href`, without the query parameter of a resume offer. */
function pathOf(href: string): { url: URL; path: string } {
  const url = new URL(href);
  // Nor the query parameter of a fresh offer, whether the server resumes.
  if (url.search.includes(RESUME_QUERY)) {
    url.search = takeResumeQuery(url.search).search;
  }
  return { url, path: url.pathname + url.search };
}

/** The URL's parameters as a plain object, a repeated one as an array. */
function queryOf(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const before = Object.hasOwn(query, name) ? query[name] : undefined;
    if (before === undefined) setOwn(query, name, value);
    else if (typeof before === "string") setOwn(query, name, [before, value]);
    else before.push(value);
  }
  return query;
}

/**
 * The request of an upgrade as `onConnection` and `ws.request` see it:
 * `headers`, `query` and `url` are made when first read, and are the same
 * objects afterwards. `JSON.stringify` and `Deno.inspect` show all five
 * fields, as of a plain object.
 *
 * @example
 * ```ts
 * import { UpgradeRequest } from "./_upgrade_request.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const request = new UpgradeRequest(
 *   new Request("http://host/room?x=1", { headers: { "X-Name": "a" } }),
 *   { transport: "tcp", hostname: "10.0.0.1", port: 5 },
 *   null,
 * );
 * assertEquals(request.headers, { "x-name": "a" });
 * assertEquals(request.query, { x: "1" });
 * assertEquals(request.url, "/room?x=1");
 * assertEquals(request.remoteAddress, "10.0.0.1");
 * assertEquals(request.params, {});
 * ```
 */
export class UpgradeRequest implements WSRequest {
  /** The request's own headers, which Deno has read into its list. */
  readonly #source: Headers;
  /** The request's URL, whole. */
  readonly #href: string;
  readonly #remoteAddress: string;
  #params: Record<string, string> | null;
  #headers: Record<string, string> | null = null;
  #query: Record<string, string | string[]> | null = null;
  #path: string | null = null;

  /**
   * Reads `request` as far as the upgrade needs it; the rest when asked.
   *
   * @param remoteAddr `info.remoteAddr` of `Deno.serve`, where given.
   * @param params The groups of the server's `path` that matched; `null`
   * for none (no `path`).
   */
  constructor(
    request: Request,
    remoteAddr: object | undefined,
    params: Record<string, string> | null,
  ) {
    const source = request.headers;
    // Deno reads the headers into the object's own list now (Deno reads
    // them from the request only until the upgrade); `has` builds no other
    // copy of them, as iterating would.
    source.has("upgrade");
    this.#source = source;
    this.#href = request.url;
    const hostname = remoteAddr !== undefined && "hostname" in remoteAddr
      ? remoteAddr.hostname
      : undefined;
    this.#remoteAddress = typeof hostname === "string" ? hostname : "";
    this.#params = params;
  }

  /** Lower-case names; a repeated header is one string joined with `", "`. */
  get headers(): Readonly<Record<string, string>> {
    return this.#headers ??= copyHeaders(this.#source);
  }

  /** The URL's parameters; a repeated one is an array. */
  get query(): Readonly<Record<string, string | string[]>> {
    if (this.#query === null) {
      const { url, path } = pathOf(this.#href);
      this.#path ??= path;
      this.#query = queryOf(url);
    }
    return this.#query;
  }

  /** The path and query, as in the request line (`"/status?name=ryan"`). */
  get url(): string {
    return this.#path ??= pathOf(this.#href).path;
  }

  /** The client's IP address (empty where the runtime does not give it). */
  get remoteAddress(): string {
    return this.#remoteAddress;
  }

  /** The groups of the server's `path` pattern that matched. */
  get params(): Readonly<Record<string, string>> {
    return this.#params ??= {};
  }

  /** The five fields as a plain object (`JSON.stringify` reads it). */
  toJSON(): WSRequest {
    return {
      headers: this.headers,
      query: this.query,
      url: this.url,
      remoteAddress: this.remoteAddress,
      params: this.params,
    };
  }

  /** Shown as the plain object of its five fields. */
  [Symbol.for("Deno.customInspect")](
    inspect: (value: unknown, options: unknown) => string,
    options: unknown,
  ): string {
    return inspect(this.toJSON(), options);
  }
}

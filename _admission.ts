/**
 * The server's admission of an upgrade request, before any socket: the
 * path, the handshake's checks, the allowed origins, a resume offer (a
 * fresh connection where it is not resumed, here or by its owner),
 * `maxConnections`, `maxConnectionsPerAddress` (and the key each admitted
 * session holds), `onConnection` and its answer (a handler, a refusal, a
 * `Response`, or a promise of one), and the answer to each refusal. The
 * context given to `fetch` and the headers `onConnection` adds to the 101
 * go with an accepted handler to the upgrade.
 *
 * @module
 */
import { checkConnectionHandler } from "./_handlers.ts";
import { ErrorCode, toError, wsError } from "./_errors.ts";
import { checkHandshake, matchPath, plain } from "./_handshake.ts";
import { KeyCounter } from "./_limits.ts";
import type { ResolvedServerOptions } from "./_options.ts";
import type { WSServerCounts } from "./_stats.ts";
import type { WSError, WSRequest } from "./_types.ts";
import { UpgradeRequest } from "./_upgrade_request.ts";

/**
 * What goes with an accepted handler to the upgrade: the context given to
 * `fetch`, and the headers `onConnection` set for the 101 answer.
 */
export interface Accepted<X> {
  /** The handler `onConnection` returned. */
  readonly handler: object;
  /** The context given to `fetch`. */
  readonly context: X;
  /** The event's `responseHeaders`. */
  readonly headers: Headers;
}

/**
 * What the admission asks of its server (`S`: its sessions; `X`: the
 * context given to `fetch`).
 */
export interface AdmissionHost<S, X> {
  /** `terminate()` was called: nothing more is admitted. */
  terminated(): boolean;
  /** How many sessions are live. */
  liveCount(): number;
  /**
   * Calls the server's `onConnection`: a handler, `null`/`undefined`, a
   * `Response`, or a promise of one.
   */
  onConnection(request: WSRequest, context: X, headers: Headers): unknown;
  /**
   * A resume offer of a session this server holds (or another instance,
   * through a relay): the answer of its new socket; `undefined`, at once
   * or from the promise (the owner did not resume it), to go on as a fresh
   * connection.
   */
  resume(
    request: Request,
  ): Response | Promise<Response | undefined> | undefined;
  /** Upgrades `request` for an accepted handler: its session and answer. */
  upgrade(
    request: Request,
    wsRequest: WSRequest,
    accepted: Accepted<X>,
  ): { readonly session: S; readonly response: Response } | Response;
  /** Reports to the server's `onError`. */
  report(statusText: string, errors: readonly WSError[]): void;
}

/**
 * `info.remoteAddr` where `info` has one (what `Deno.serve` gives); read by
 * its shape, so that a framework's own (Hono's `c.env`) passes as it is.
 */
function remoteAddrOf(info: unknown): object | undefined {
  if (typeof info !== "object" || info === null || !("remoteAddr" in info)) {
    return undefined;
  }
  const addr = info.remoteAddr;
  return typeof addr === "object" && addr !== null ? addr : undefined;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && "then" in value &&
    typeof value.then === "function";
}

/** One server's admission of upgrade requests. */
export class Admission<S, X> {
  readonly #options: ResolvedServerOptions;
  readonly #pattern: URLPattern | undefined;
  readonly #stats: WSServerCounts;
  readonly #host: AdmissionHost<S, X>;
  /** `onConnection` calls whose promise has not settled. */
  #pending = 0;
  /** Open connections per address, with `maxConnectionsPerAddress`. */
  readonly #perAddress: KeyCounter | undefined;
  /** The address key of each session, with `maxConnectionsPerAddress`. */
  readonly #keys = new Map<S, string>();

  constructor(
    options: ResolvedServerOptions,
    pattern: URLPattern | undefined,
    stats: WSServerCounts,
    host: AdmissionHost<S, X>,
  ) {
    this.#options = options;
    this.#pattern = pattern;
    this.#stats = stats;
    this.#host = host;
    if (options.maxConnectionsPerAddress !== Infinity) {
      this.#perAddress = new KeyCounter(options.maxConnectionsPerAddress);
    }
  }

  /**
   * Answers `request`: its checks (terminated, path, handshake, origin),
   * then a resume where it offers one, else a fresh connection.
   */
  admit(
    request: Request,
    info: unknown,
    context: X,
  ): Response | Promise<Response> {
    const host = this.#host;
    if (host.terminated()) return terminatedAnswer();
    // Without a `path`, the request's `params` are made when read.
    let params: Record<string, string> | null = null;
    if (this.#pattern !== undefined) {
      params = matchPath(this.#pattern, request.url);
      if (params === null) return plain(404, "Not Found");
    }
    const refusal = checkHandshake(request.headers);
    if (refusal !== undefined) return refusal;
    const options = this.#options;
    const origins = options.allowedOrigins;
    const origin = request.headers.get("origin");
    if (origins !== undefined && origin !== null && !origins.has(origin)) {
      return plain(403, "Forbidden");
    }
    if (options.resume !== null) {
      // A resume counts once: its session is live already.
      const resumed = host.resume(request);
      if (resumed instanceof Response) return resumed;
      if (resumed !== undefined) {
        // Relayed: where the owner did not resume it, a fresh connection,
        // unless the server terminated meanwhile.
        return resumed.then((answer) =>
          answer ??
            (host.terminated()
              ? terminatedAnswer()
              : this.#fresh(request, info, context, params))
        );
      }
    }
    return this.#fresh(request, info, context, params);
  }

  /**
   * Admits `request` as a fresh connection: `maxConnections`,
   * `maxConnectionsPerAddress`, `onConnection` and its answer.
   */
  #fresh(
    request: Request,
    info: unknown,
    context: X,
    params: Record<string, string> | null,
  ): Response | Promise<Response> {
    const host = this.#host;
    const options = this.#options;
    if (host.liveCount() + this.#pending >= options.maxConnections) {
      this.#stats.limits.maxConnections++;
      return plain(503, "Too Many Connections");
    }
    const wsRequest = new UpgradeRequest(request, remoteAddrOf(info), params);
    let key: string | undefined;
    if (this.#perAddress !== undefined) {
      try {
        key = options.addressKey?.(request, wsRequest.remoteAddress) ??
          wsRequest.remoteAddress;
      } catch (thrown) {
        return this.#refusedByError(thrown, "addressKey");
      }
      if (!this.#perAddress.acquire(key)) {
        this.#stats.limits.maxConnectionsPerAddress++;
        return plain(429, "Too Many Connections From This Address", {
          "retry-after": "1",
        });
      }
    }
    let answer: unknown;
    const headers = new Headers();
    try {
      answer = host.onConnection(wsRequest, context, headers);
    } catch (thrown) {
      this.#releaseKey(key);
      return this.#refusedByError(thrown);
    }
    if (!isThenable(answer)) {
      return this.#accept(request, wsRequest, answer, key, context, headers);
    }
    this.#pending++;
    return Promise.resolve(answer).then(
      (handler) => {
        this.#pending--;
        return this.#accept(request, wsRequest, handler, key, context, headers);
      },
      (thrown) => {
        this.#pending--;
        this.#releaseKey(key);
        return this.#refusedByError(thrown);
      },
    );
  }

  /** The session terminated: its address key is free again. */
  release(session: S): void {
    if (this.#perAddress === undefined) return;
    this.#releaseKey(this.#keys.get(session));
    this.#keys.delete(session);
  }

  /** One connection less for `key` (`maxConnectionsPerAddress`). */
  #releaseKey(key: string | undefined): void {
    if (key !== undefined) this.#perAddress?.release(key);
  }

  /** Upgrades for `answer`, or refuses; the key goes with the session. */
  #accept(
    request: Request,
    wsRequest: WSRequest,
    answer: unknown,
    key: string | undefined,
    context: X,
    headers: Headers,
  ): Response {
    const handler = this.#accepted(answer);
    const upgraded = handler instanceof Response
      ? handler
      : this.#host.upgrade(request, wsRequest, { handler, context, headers });
    if (upgraded instanceof Response) {
      this.#releaseKey(key);
      return upgraded;
    }
    if (key !== undefined) this.#keys.set(upgraded.session, key);
    return upgraded.response;
  }

  /** The handler `onConnection` accepted with, or the answer to a refusal. */
  #accepted(answer: unknown): object | Response {
    if (answer === null || answer === undefined) {
      return plain(403, "Forbidden");
    }
    if (answer instanceof Response) return this.#refusedWith(answer);
    if (typeof answer === "object") {
      try {
        checkConnectionHandler(answer);
      } catch (thrown) {
        this.#host.report("invalid connection handler", [
          wsError(ErrorCode.InvalidHandler, toError(thrown).message, thrown),
        ]);
        // Refused as a handler without onMessage is (SPEC.md).
        return plain(403, "Forbidden");
      }
    }
    if (
      typeof answer !== "object" || !("onMessage" in answer) ||
      typeof answer.onMessage !== "function"
    ) {
      this.#host.report("invalid connection handler", [
        wsError(
          ErrorCode.InvalidHandler,
          "Cannot accept connection: the handler onConnection returned has no onMessage method",
        ),
      ]);
      return plain(403, "Forbidden");
    }
    if (this.#host.terminated()) return terminatedAnswer();
    return answer;
  }

  /**
   * `onConnection`'s own answer: a refusal is a status of 400-599; any
   * other is answered 500 and reported, for no socket can follow it.
   */
  #refusedWith(response: Response): Response {
    if (response.status >= 400 && response.status <= 599) return response;
    this.#host.report("invalid connection handler", [
      wsError(
        ErrorCode.InvalidHandler,
        `Cannot refuse connection: the Response onConnection returned must have a status of 400-599, current value is ${response.status}`,
      ),
    ]);
    return plain(500, "Internal Server Error");
  }

  #refusedByError(thrown: unknown, name = "onConnection"): Response {
    const error = toError(thrown);
    this.#host.report(`${name} failed`, [
      wsError(
        ErrorCode.ConnectionRefused,
        `Callback ${name} failed: ${error.message}`,
        error,
      ),
    ]);
    return plain(500, "Internal Server Error");
  }
}

/**
 * The answer of a terminated server: 503, and `retry-after` for a client
 * that tries again (another instance, or this one restarted, will answer).
 */
function terminatedAnswer(): Response {
  return plain(503, "Server terminated", { "retry-after": "1" });
}

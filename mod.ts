/**
 * ws4d: the 4D language's WebSocket classes, native to Deno, with 4D's names,
 * properties, callbacks and event objects. {@linkcode WebSocketServer} is
 * `4D.WebSocketServer`: it upgrades requests (listening by itself with
 * `port`, or through `wss.fetch` in any `Deno.serve` app, `deno serve` or
 * Deno Deploy), keeps the registry of {@linkcode WebSocketConnection}s and
 * calls your handlers. {@linkcode WebSocket} is `4D.WebSocket`, the client,
 * for Deno, browsers, Node 22+ and Bun. Beyond 4D: `broadcast` across
 * instances ({@linkcode BroadcastChannelBackplane}), a client that reconnects
 * and resumes a broken connection with no message lost, limits against
 * floods, and `wss.stats`.
 *
 * @example A 4D-style echo server, and a client that talks to it
 * ```ts
 * import { WebSocket, WebSocketServer } from "@ws4d/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * await using wss = new WebSocketServer({
 *   onConnection: () => ({ onMessage: (ws, event) => ws.send(event.data) }),
 * }, { port: 0, hostname: "127.0.0.1" });
 * const echoed = Promise.withResolvers<string>();
 * const ws = new WebSocket(`ws://127.0.0.1:${wss.addr?.port}/`, {
 *   onOpen: (ws) => ws.send("hello 4D"),
 *   onMessage: (_ws, event) => echoed.resolve(event.data),
 * });
 * assertEquals(await echoed.promise, "hello 4D");
 * ws.terminate();
 * ```
 *
 * This entry exports all of it but two optional parts, which have entries of
 * their own so that an application that does not use them never loads their
 * dependency:
 *
 * - [`@ws4d/websocket/server`](https://jsr.io/@ws4d/websocket/doc/server) and
 *   [`@ws4d/websocket/client`](https://jsr.io/@ws4d/websocket/doc/client): each side alone (the client
 *   alone uses no `Deno.*` API);
 * - [`@ws4d/websocket/redis`](https://jsr.io/@ws4d/websocket/doc/redis): `RedisBackplane`, `broadcast`
 *   across processes and machines (`npm:redis`);
 * - [`@ws4d/websocket/otel`](https://jsr.io/@ws4d/websocket/doc/otel): `observeServer`, OpenTelemetry
 *   metrics (`npm:@opentelemetry/api`).
 *
 * The reference is in the package's `docs/` folder, one page a subject:
 * `server.md`, `options.md`, `client.md`, `reconnect-and-resume.md`,
 * `wire-protocol.md`, `typescript.md`, `frameworks.md`, `scaling.md`,
 * `reliability.md`, `limits-and-metrics.md`; its README has the table of 4D's
 * names beside ws4d's.
 *
 * @module
 */
export {
  WebSocketServer,
  type WebSocketServerOptions,
  type WSAcceptedHandler,
  type WSBroadcastOptions,
  type WSClusterStats,
  type WSConnectionAnswer,
  type WSConnectionCallbackName,
  type WSConnectionEvent,
  type WSConnectionHandlerNames,
  type WSConnectionResult,
  type WSFetch,
  type WSFetchInit,
  type WSFetchRequest,
  type WSFetchRest,
  type WSLimitName,
  type WSRateLimitOptions,
  type WSResumeOptions,
  type WSServerCallbackName,
  type WSServerConnectionEvent,
  type WSServerHandler,
  type WSServerHandlerInit,
  type WSServerHandlerOwn,
  type WSServerOf,
  type WSServerStats,
} from "./server.ts";
export {
  WebSocketConnection,
  type WSConnectionHandler,
  type WSConnectionInit,
} from "./connection.ts";
export {
  type Backplane,
  type BackplaneData,
  type BackplaneSink,
  BroadcastChannelBackplane,
  type NamedCounts,
} from "./backplane.ts";
export {
  WebSocket,
  WebSocketClient,
  type WSClientHandler,
  type WSClientHandlerInit,
  type WSClientHandlerOwn,
  type WSHeaders,
} from "./client.ts";
export { objectOf } from "./_object_of.ts";
export {
  ErrorCode,
  type ErrorCodeName,
  type ErrorCodeValue,
} from "./_errors.ts";
export type {
  DataType,
  WSCallbackResult,
  WSClientErrorEvent,
  WSClientOpenEvent,
  WSClientReconnectingEvent,
  WSClientStatus,
  WSClientTerminateEvent,
  WSConnectionErrorEvent,
  WSConnectionStatus,
  WSConnectionTerminateEvent,
  WSData,
  WSError,
  WSErrorEvent,
  WSMessageEvent,
  WSObjectOf,
  WSOpenEvent,
  WSReconnectOptions,
  WSRequest,
  WSSendable,
  WSServerErrorEvent,
  WSServerEvent,
  WSServerOpenEvent,
  WSServerTerminateEvent,
  WSStatus,
  WSTerminateEvent,
} from "./_types.ts";

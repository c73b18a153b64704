/**
 * ws4d: the 4D language's WebSocket classes, native to Deno.
 * {@linkcode WebSocketServer} keeps a registry of {@linkcode WebSocketConnection}s
 * and calls your handlers with 4D's names and event objects;
 * {@linkcode WebSocket} is 4D's client, for Deno, browsers, Node and Bun.
 *
 * @example A 4D-style echo server, mounted in Deno.serve
 * ```ts
 * import { WebSocketServer } from "@ws4d/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const wss = new WebSocketServer({
 *   onConnection: () => ({
 *     onMessage(ws, event) {
 *       ws.send(event.data);
 *     },
 *   }),
 * }, { path: "/ws", port: 0, hostname: "127.0.0.1" });
 * assertEquals(wss.connections.length, 0);
 * await wss.terminate();
 * ```
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
  type WSConnectionEvent,
  type WSConnectionResult,
  type WSLimitName,
  type WSRateLimitOptions,
  type WSResumeOptions,
  type WSServerConnectionEvent,
  type WSServerHandler,
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
  WSOpenEvent,
  WSReconnectOptions,
  WSRequest,
  WSServerErrorEvent,
  WSServerEvent,
  WSServerOpenEvent,
  WSServerTerminateEvent,
  WSStatus,
  WSTerminateEvent,
} from "./_types.ts";

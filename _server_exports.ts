/**
 * What the `./server` entry exports beside `WebSocketServer`: every type its
 * signatures name (so the entry reads whole on JSR), the backplane of the
 * workers, the connection, `ErrorCode` and `objectOf`.
 *
 * @module
 */
export {
  type Backplane,
  type BackplaneData,
  type BackplaneSink,
  BroadcastChannelBackplane,
  type NamedCounts,
} from "./backplane.ts";
export {
  WebSocketConnection,
  type WSConnectionHandler,
  type WSConnectionInit,
} from "./connection.ts";
export type {
  DataType,
  WSCallbackResult,
  WSConnectionErrorEvent,
  WSConnectionStatus,
  WSConnectionTerminateEvent,
  WSData,
  WSError,
  WSMessageEvent,
  WSObjectOf,
  WSOpenEvent,
  WSRequest,
  WSSendable,
  WSServerErrorEvent,
  WSServerOpenEvent,
  WSServerTerminateEvent,
} from "./_types.ts";
export {
  ErrorCode,
  type ErrorCodeName,
  type ErrorCodeValue,
} from "./_errors.ts";
export type { WSClusterStats, WSLimitName, WSServerStats } from "./_stats.ts";
export type { WebSocketServerOptions, WSRateLimitOptions } from "./_options.ts";
export type { WSResumeOptions } from "./_resume_options.ts";
export type * from "./_server_types.ts";
export { objectOf } from "./_object_of.ts";

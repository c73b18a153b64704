// This module is browser compatible.
/**
 * `objectOf`, the one function among the public types: apart from them, so
 * that a program loads no module of types at run time.
 *
 * @module
 */
import type { WSObjectOf } from "./_types.ts";

/**
 * The `dataType` `"object"`, typed with the messages it carries: every
 * handler's `event.data` is then `T` (SPEC.md, "Types").
 *
 * @example Naming the message type once, for a whole server
 * ```ts
 * import { objectOf, WebSocketServer } from "@ws4d/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * interface Chat {
 *   readonly from: string;
 *   readonly text: string;
 * }
 * await using wss = new WebSocketServer({
 *   onConnection: () => ({
 *     onMessage(ws, event) {
 *       ws.send(`${event.data.from}: ${event.data.text}`); // event.data is a Chat
 *     },
 *   }),
 * }, { dataType: objectOf<Chat>() });
 * assertEquals(wss.dataType, "object");
 * ```
 */
export function objectOf<T>(): WSObjectOf<T> {
  // The phantom member exists in the type only: the value is "object".
  return "object" as WSObjectOf<T>;
}

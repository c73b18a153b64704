// This module is browser compatible.
/**
 * The names of the three handlers' callbacks (and the client's settings),
 * and the checks made of a handler where it is given: a key that differs
 * from one of them only by case (`onmessage`, the DOM's) is a `TypeError`
 * naming the right one, since such a callback would never be called.
 *
 * @module
 */

/**
 * The callbacks and settings of a kind of handler, by their lower-case
 * names: what {@linkcode checkCallbackNames} looks a key up in.
 */
export function callbackNames(
  names: readonly string[],
): ReadonlyMap<string, string> {
  return new Map(names.map((name) => [name.toLowerCase(), name]));
}

/** Prototypes (of class handlers) already checked: each is checked once. */
const CHECKED_PROTOTYPES = new WeakSet<object>();

/**
 * A handler's key that differs from one of `names` only by case
 * (`onmessage`, `OnMessage`) is a `TypeError` naming the right one: such a
 * callback would never be called. Own keys, and the methods of a class
 * handler's prototypes (each prototype checked once).
 */
export function checkCallbackNames(
  handler: object,
  names: ReadonlyMap<string, string>,
  prefix: string,
  action: string,
): void {
  let holder: object | null = handler;
  while (holder !== null && holder !== Object.prototype) {
    if (holder !== handler && CHECKED_PROTOTYPES.has(holder)) break;
    for (const key of Object.getOwnPropertyNames(holder)) {
      const right = names.get(key.toLowerCase());
      if (right !== undefined && right !== key) {
        throw new TypeError(
          `${action}: ${prefix}.${key} is not a callback or setting, names are case-sensitive: did you mean ${prefix}.${right}?`,
        );
      }
    }
    if (holder !== handler) CHECKED_PROTOTYPES.add(holder);
    holder = Object.getPrototypeOf(holder);
  }
}

/** The server handler's callbacks. */
const SERVER_CALLBACKS = callbackNames([
  "onConnection",
  "onOpen",
  "onTerminate",
  "onError",
]);

/** A connection handler's callbacks. */
const CONNECTION_CALLBACKS = callbackNames([
  "onMessage",
  "onOpen",
  "onTerminate",
  "onError",
]);

/** The client handler's callbacks (its settings are `CLIENT_SETTINGS`'s keys). */
export const CLIENT_CALLBACKS: readonly string[] = [
  "onOpen",
  "onMessage",
  "onError",
  "onTerminate",
  "onReconnecting",
];

/**
 * Checks the handler of `new WebSocketServer`: an object with an
 * `onConnection` method, no callback miscased.
 *
 * @throws {TypeError} Naming what is wrong.
 */
export function checkServerHandler(handler: unknown, action: string): void {
  if (typeof handler === "object" && handler !== null) {
    checkCallbackNames(handler, SERVER_CALLBACKS, "handler", action);
    if (typeof Reflect.get(handler, "onConnection") === "function") return;
  }
  throw new TypeError(`${action}: handler.onConnection must be a function`);
}

/** Checks a connection handler's names (its `onMessage` is checked apart). */
export function checkConnectionHandler(handler: object): void {
  checkCallbackNames(
    handler,
    CONNECTION_CALLBACKS,
    "handler",
    "Cannot accept connection",
  );
}

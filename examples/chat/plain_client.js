// The chat page's client where ws4d's cannot be bundled (Deno Deploy, or
// `deno serve` without --allow-run): the few callbacks the page uses, over
// the browser's own WebSocket, without reconnecting or resuming.

/** A stand-in for ws4d's `WebSocketClient`, for the chat page only. */
export class WebSocketClient {
  #socket;
  #handler;

  constructor(url, handler = {}) {
    this.#handler = handler;
    this.#socket = new WebSocket(url);
    this.#socket.onopen = () =>
      handler.onOpen?.(this, {
        type: "open",
        reconnected: false,
        resumed: false,
      });
    this.#socket.onmessage = (event) =>
      handler.onMessage?.(this, { type: "message", data: event.data });
    this.#socket.onclose = (event) =>
      handler.onTerminate?.(this, {
        type: "terminate",
        code: event.code === 0 ? 1006 : event.code,
        reason: event.reason,
        wasClean: event.wasClean,
      });
  }

  get handler() {
    return this.#handler;
  }

  send(message) {
    if (this.#socket.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(message);
    return true;
  }

  terminate(code, reason) {
    this.#socket.close(code, reason);
  }
}

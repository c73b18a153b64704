/**
 * The chat's connection handler, 4D's `myConnectionHandler`: the welcome,
 * the news of arrivals and departures, and the relay of every message to all
 * the other clients.
 *
 * @module
 */
import type {
  WebSocketConnection,
  WSConnectionHandler,
  WSMessageEvent,
} from "../../mod.ts";

/** 4D's `myConnectionHandler`: one per client. */
export class ChatHandler implements WSConnectionHandler {
  onOpen(ws: WebSocketConnection): void {
    ws.send("Welcome on the chat!");
    this.#toOthers(ws, "New client connected");
  }

  onMessage(ws: WebSocketConnection, event: WSMessageEvent): void {
    this.#toOthers(ws, event.data);
  }

  onTerminate(ws: WebSocketConnection): void {
    this.#toOthers(ws, "Client disconnected");
  }

  /**
   * "Resend the message to all the other clients". The 4D loop works as is:
   * `for (const other of ws.wss.connections) if (other.id !== ws.id) other.send(message)`;
   * `broadcast` encodes the message once for all of them.
   */
  #toOthers(ws: WebSocketConnection, message: unknown): void {
    ws.wss.broadcast(message, { except: ws });
  }
}

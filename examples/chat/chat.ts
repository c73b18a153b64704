/**
 * The chat's connection handler, 4D's `myConnectionHandler`, with rooms: the
 * welcome, the news of arrivals and departures, and the relay of every
 * message to all the other clients of the same room, on every worker and
 * process (docs/topics.md).
 *
 * @module
 */
import type {
  WebSocketConnection,
  WSConnectionHandler,
  WSMessageEvent,
} from "../../mod.ts";

/** The room of a page that names none. */
export const LOBBY = "lobby";

/** The longest room name; a longer one, or none, is the lobby. */
const MAX_ROOM = 64;

/**
 * The room a request asks for (`/ws?room=name`, as the page at
 * `/?room=name` connects): the lobby when it names none or one too long.
 */
export function roomOf(url: string): string {
  const room = new URL(url, "http://localhost").searchParams.get("room") ?? "";
  return room === "" || room.length > MAX_ROOM || !room.isWellFormed()
    ? LOBBY
    : room;
}

/** The topic of a room (its own namespace, beside any other topic). */
export function topicOf(room: string): string {
  return `room:${room}`;
}

/** 4D's `myConnectionHandler`: one per client, in one room. */
export class ChatHandler implements WSConnectionHandler {
  /** The topic of this client's room. */
  readonly topic: string;
  readonly #settled: () => Promise<void>;

  /**
   * @param room The client's room.
   * @param settled Resolves once the backplane carries this instance's new
   * topics (`RedisBackplane.settled`): the welcome waits for it, so that a
   * welcomed client hears what the other processes publish to its room.
   */
  constructor(
    room: string = LOBBY,
    settled: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.topic = topicOf(room);
    this.#settled = settled;
  }

  async onOpen(ws: WebSocketConnection): Promise<void> {
    // Only the server subscribes a connection: the room is the one the page
    // was opened with, nothing the client sends later changes it.
    ws.subscribe(this.topic);
    // The callbacks of this connection wait for this one: its messages are
    // published once the room's other processes can hear it too.
    await this.#settled();
    ws.send("Welcome on the chat!");
    ws.publish(this.topic, "New client connected");
  }

  onMessage(ws: WebSocketConnection, event: WSMessageEvent): void {
    // "Resend the message to all the other clients" of the room: encoded
    // once, on every worker and process that has some.
    ws.publish(this.topic, event.data);
  }

  onTerminate(ws: WebSocketConnection): void {
    // The connection has left its room already: everyone left gets it.
    ws.wss.publish(this.topic, "Client disconnected");
  }
}

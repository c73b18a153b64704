// This module is browser compatible.
/**
 * A client's dialing: the link of each try, a socket to the same URL with
 * the same headers and subprotocols. With resuming, each try makes the
 * offer its {@linkcode Resumption} says: a fresh offer in the query, which
 * a server without resuming ignores, or the token of the session to resume,
 * in the subprotocols.
 *
 * @module
 */
import {
  type Link,
  type LinkFault,
  refusedFault,
  SocketLink,
} from "./_link.ts";
import type { Resumption } from "./_resume.ts";
import { withResumeQuery } from "./_resume_handshake.ts";

/**
 * A runtime's `WebSocket` constructor: Deno, Node (undici) and Bun take an
 * object with `headers` and `protocols` as second argument; a browser, the
 * subprotocols only.
 */
export type SocketConstructor = new (
  url: string,
  options?: string[] | {
    readonly headers: [string, string][];
    readonly protocols: string[];
  },
) => WebSocket;

/** Makes the link of each of a client's tries. */
export class Dialer {
  readonly #Socket: SocketConstructor;
  readonly #url: string;
  readonly #protocols: readonly string[];
  readonly #headers: [string, string][] | undefined;
  readonly #resume: Resumption | null;

  /**
   * @param Socket The runtime's WebSocket.
   * @param url The URL, as the user gave it.
   * @param protocols The user's subprotocols.
   * @param headers Handshake headers, where the runtime can send them.
   * @param resume The client's resuming, or `null` where it offers none.
   */
  constructor(
    Socket: SocketConstructor,
    url: string,
    protocols: readonly string[],
    headers: [string, string][] | undefined,
    resume: Resumption | null,
  ) {
    this.#Socket = Socket;
    this.#url = url;
    this.#protocols = protocols;
    this.#headers = headers;
    this.#resume = resume;
  }

  /**
   * The link of the next try.
   *
   * @throws What the runtime's `WebSocket` throws (a URL or a subprotocol
   * it refuses).
   */
  open(): Link {
    let url = this.#url;
    let protocols = [...this.#protocols];
    const resume = this.#resume;
    if (resume !== null) {
      const offer = resume.offer();
      if (offer === null) url = withResumeQuery(url);
      else protocols = offer;
    }
    const headers = this.#headers;
    const Socket = this.#Socket;
    return new SocketLink(
      headers === undefined
        ? new Socket(url, protocols)
        : new Socket(url, { headers, protocols }),
      false,
    );
  }

  /**
   * The link of the next try, or the fault of a socket the runtime refused
   * to make: a try that failed.
   */
  dial(): Link | LinkFault {
    try {
      return this.open();
    } catch (error) {
      return refusedFault(error);
    }
  }
}

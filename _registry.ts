/**
 * The server's registry of sessions: every live one (upgraded, not yet
 * terminated), the connected ones in the order they opened, and the
 * resumable ones by their token's selector. {@linkcode SessionRegistry} is
 * all the server asks of it, so that another implementation can take over
 * (a directory shared by the instances of a server, where a session
 * resumed on another instance is found); {@linkcode LocalRegistry} keeps
 * them in this instance's memory.
 *
 * @module
 */

/** What the server asks of its registry of sessions. */
export interface SessionRegistry<S> {
  /** Every session not yet terminated. */
  readonly live: ReadonlySet<S>;
  /** The `"Connected"` ones, in the order they opened. */
  readonly connected: ReadonlySet<S>;
  /**
   * A new session, live from now; resumable by `selector` where given (a
   * selector that {@linkcode SessionRegistry.find} finds already is refused:
   * `false`, and nothing is added).
   */
  add(session: S, selector: string | null): boolean;
  /** The resumable session whose token has this selector. */
  find(selector: string): S | undefined;
  /** The session's token names it no more (declined, or ended). */
  forget(session: S, selector: string): void;
  /** The session is `"Connected"` (`true`) or has left it (`false`). */
  connect(session: S, connected: boolean): void;
  /** The session terminated: it leaves every set. */
  remove(session: S): void;
}

/**
 * A {@linkcode SessionRegistry} in this instance's memory.
 *
 * @example
 * ```ts
 * import { LocalRegistry } from "./_registry.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const registry = new LocalRegistry<string>();
 * assertEquals(registry.add("a", "selector-of-a"), true);
 * assertEquals(registry.add("b", "selector-of-a"), false);
 * assertEquals(registry.find("selector-of-a"), "a");
 * registry.forget("a", "selector-of-a");
 * assertEquals(registry.find("selector-of-a"), undefined);
 * assertEquals(registry.live.size, 1);
 * ```
 */
export class LocalRegistry<S> implements SessionRegistry<S> {
  readonly live: Set<S> = new Set();
  readonly connected: Set<S> = new Set();
  readonly #resumable = new Map<string, S>();

  add(session: S, selector: string | null): boolean {
    if (selector !== null) {
      if (this.#resumable.has(selector)) return false;
      this.#resumable.set(selector, session);
    }
    this.live.add(session);
    return true;
  }

  find(selector: string): S | undefined {
    return this.#resumable.get(selector);
  }

  forget(session: S, selector: string): void {
    if (this.#resumable.get(selector) === session) {
      this.#resumable.delete(selector);
    }
  }

  connect(session: S, connected: boolean): void {
    if (connected) this.connected.add(session);
    else this.connected.delete(session);
  }

  remove(session: S): void {
    this.live.delete(session);
    this.connected.delete(session);
  }
}

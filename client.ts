// This module is browser compatible.
/**
 * The 4D `WebSocket` client (placeholder until the client lands).
 *
 * @module
 */
export {};

/**
 * Moved to `testkit/relay.ts`, shared by the tests and the benchmark; this
 * re-export keeps the test files that still import it from here working.
 *
 * @module
 */
export * from "../testkit/relay.ts";

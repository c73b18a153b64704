/**
 * The ws4d client bundled for the browser: `client.ts` and what it imports,
 * as one minified ES module, by `deno bundle --platform browser` (about
 * 30 kB, in a fraction of a second). `serve.ts` bundles it once at startup
 * and hands it to the workers; `main.ts` bundles it on first need when run
 * without `serve.ts`.
 *
 * `deno bundle` runs in the package's folder, whatever the caller's: its
 * `deno.json` maps `@std/encoding` (which `_resume.ts` imports) to JSR, and
 * `JSR_URL`, passed on with the rest of the environment, says where JSR is.
 *
 * @module
 */

/** The environment variable that carries the bundle from serve.ts to the workers. */
export const CLIENT_ENV = "WS4D_CHAT_CLIENT";

const ROOT = new URL("../..", import.meta.url).pathname;
const CLIENT = new URL("../../client.ts", import.meta.url).pathname;

/**
 * Runs `deno bundle --platform browser --minify client.ts`.
 *
 * @returns The bundle's JavaScript.
 * @throws {Error} With `deno bundle`'s own message when it fails.
 */
export async function bundleClient(): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(
    Deno.execPath(),
    {
      args: ["bundle", "--platform", "browser", "--minify", CLIENT],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    },
  ).output();
  if (!success) {
    throw new Error(
      `Cannot bundle ${CLIENT}: ${new TextDecoder().decode(stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(stdout);
}

/**
 * The Node peer of the benchmark: Node 22 (from `testkit/provision.ts`, as
 * the tests provision it) running `bench/node_server.cjs` on npm's `ws`,
 * which this module installs with Deno's own npm client into
 * `.cache/npm-bench/` (ignored by git) the first time it is asked.
 *
 * @module
 */
import { CACHE, tools } from "../testkit/provision.ts";
import type { ServerVariant } from "./_variants.ts";

const DIR = new URL("npm-bench/", CACHE);
const WS = new URL("node_modules/ws/", DIR);

/** The `ws` package folder, installed if missing; or why it could not be. */
async function wsPackage(): Promise<string | Error> {
  const index = new URL("index.js", WS);
  try {
    await Deno.stat(index);
    return WS.pathname;
  } catch {
    // Not installed yet.
  }
  await Deno.mkdir(DIR, { recursive: true });
  await Deno.writeTextFile(
    new URL("package.json", DIR),
    JSON.stringify({ private: true, dependencies: { ws: "^8" } }) + "\n",
  );
  // Its own config, so that the repository's deno.json is not the one used.
  await Deno.writeTextFile(
    new URL("deno.json", DIR),
    JSON.stringify({ nodeModulesDir: "manual" }) + "\n",
  );
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["install"],
    cwd: DIR,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    return new Error(
      `deno install of npm:ws failed: ${
        new TextDecoder().decode(output.stderr).trim().split("\n").at(-1)
      }`,
    );
  }
  return WS.pathname;
}

/**
 * The `node` variant (Node 22 with npm's `ws`), or a sentence saying why
 * it cannot run here.
 *
 * @example
 * ```ts ignore
 * const node = await nodeVariant();
 * if (typeof node === "string") console.error(node);
 * ```
 */
export async function nodeVariant(): Promise<ServerVariant | string> {
  const node = tools().node22;
  if (node === undefined) {
    return "No Node 22 here (run `deno run -A testkit/provision.ts`): the Node `ws` rows were left out.";
  }
  const ws = await wsPackage();
  if (ws instanceof Error) {
    return `${ws.message}: the Node \`ws\` rows were left out.`;
  }
  return {
    name: "node",
    impl: "node",
    runtime: node.path,
    module: ws,
    about:
      `Node ${node.version} with npm's \`ws\` (\`bench/node_server.cjs\`), a peer`,
  };
}

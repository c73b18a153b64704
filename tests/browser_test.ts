/**
 * The client in a real browser: Debian's chromium, driven by playwright-core.
 * A browser that cannot start fails these tests; they are never skipped.
 */
import assert from "node:assert/strict";
import { chromium } from "npm:playwright-core@^1";
import { WebSocketServer } from "../mod.ts";
import { deadline } from "./_helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Builds client.ts for the browser with `deno bundle`. */
async function bundleClient(dir: string): Promise<string> {
  const out = `${dir}/client.js`;
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform",
      "browser",
      "-o",
      out,
      new URL("../client.ts", import.meta.url).pathname,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  return await Deno.readTextFile(out);
}

/** A browser on a fresh profile, closed (and its folder removed) on dispose. */
async function browser() {
  const dir = await Deno.makeTempDir({ prefix: "ws4d-chromium-" });
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
  });
  return {
    context,
    dir,
    async [Symbol.asyncDispose]() {
      await context.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const PAGE_SCRIPT = `
import { WebSocket } from "/client.js";
function run(url, dataType, messages, code) {
  return new Promise((resolve) => {
    const seen = [];
    const ws = new WebSocket(url, {
      dataType,
      onOpen() { seen.push("open"); for (const m of messages) ws.send(m); },
      onMessage(_ws, event) {
        const d = event.data;
        seen.push(d instanceof Uint8Array ? Array.from(d) : d);
        if (seen.length === messages.length + 1) ws.terminate(code, "bye");
      },
      onError(_ws, event) { seen.push(["error", event.errors.map((e) => e.errCode)]); },
      onTerminate(_ws, event) { seen.push(["terminate", event.code]); resolve(seen); },
    });
  });
}
window.results = (async () => {
  const url = "ws://" + location.host + "/ws";
  let headersError = "";
  try { new WebSocket(url, { headers: { a: "1" } }); } catch (e) { headersError = e.name; }
  return {
    text: await run(url, "text", ["hi", new Uint8Array([104, 105])], 1000),
    blob: await run(url, "blob", ["é"], 4001),
    object: await run(url, "object", [{ a: [1] }], 3000),
    headersError,
  };
})();
`;

// playwright-core keeps its own pipes and timers to the browser process.
const browserTest = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name:
    "WebSocket in Chromium: open, text/blob/object round trips, terminate codes",
  ...browserTest,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const bundle = await bundleClient(dir);
      const closes: number[] = [];
      const wss = new WebSocketServer({
        onConnection: () => ({
          onMessage: (ws, event) => ws.send(event.data),
          onTerminate: (_ws, event) => void closes.push(event.code),
        }),
      }, { path: "/ws" });
      await using server = Deno.serve(
        { port: 0, hostname: "127.0.0.1", onListen() {} },
        (request, info) => {
          if (wss.handles(request)) return wss.fetch(request, info);
          const { pathname } = new URL(request.url);
          if (pathname === "/client.js") {
            return new Response(bundle, {
              headers: { "content-type": "text/javascript" },
            });
          }
          return new Response(
            `<!doctype html><meta charset="utf-8"><script type="module">${PAGE_SCRIPT}</script>`,
            { headers: { "content-type": "text/html" } },
          );
        },
      );
      await using chrome = await browser();
      const page = await chrome.context.newPage();
      await page.goto(`http://127.0.0.1:${server.addr.port}/`);
      const results = await deadline(
        page.evaluate("window.results") as Promise<Record<string, unknown>>,
        "the page's results",
        30_000,
      );
      assert.deepEqual(results, {
        text: ["open", "hi", "hi", ["terminate", 1000]],
        blob: ["open", [195, 169], ["terminate", 4001]],
        object: ["open", { a: [1] }, ["terminate", 3000]],
        headersError: "TypeError",
      });
      await wss.terminate();
      assert.deepEqual(closes.sort(), [1000, 3000, 4001]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "The chat of deno task serve in two Chromium pages",
  ...browserTest,
  async fn() {
    const chat = await import("../examples/chat/main.ts");
    await using server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      chat.fetch,
    );
    const url = `http://127.0.0.1:${server.addr.port}/`;
    await using chrome = await browser();
    const alice = await chrome.context.newPage();
    const bob = await chrome.context.newPage();
    await alice.goto(url);
    await alice.waitForSelector("text=Connected", { timeout: 10_000 });
    await bob.goto(url);
    await bob.waitForSelector("text=Connected", { timeout: 10_000 });
    await alice.waitForSelector("text=New client connected", {
      timeout: 10_000,
    });
    await alice.fill("#text", "Hello from Alice");
    await alice.click("#send");
    await bob.waitForSelector("#log >> text=Hello from Alice", {
      timeout: 10_000,
    });
    const shot = `${chrome.dir}/chat.png`;
    await bob.screenshot({ path: shot });
    assert.ok((await Deno.stat(shot)).size > 1000);
    const bobLog = await bob.locator("#log li").allTextContents();
    assert.deepEqual(bobLog, ["Welcome on the chat!", "Hello from Alice"]);
    await alice.close();
    await bob.waitForSelector("text=Client disconnected", { timeout: 10_000 });
    await bob.close();
    await chat.wss.terminate();
  },
});

/**
 * The chat in a real browser: Debian's chromium, driven by playwright-core.
 * The client's own scenarios in Chromium are in tests/runtimes_test.ts.
 * Without a chromium (tests/_provision.ts finds or installs it) this test is
 * ignored, and `.ci/run` fails on that.
 */
import assert from "node:assert/strict";
import { chromium } from "npm:playwright-core@^1";
import { tools } from "./_provision.ts";

const CHROMIUM = tools().chromium?.path;
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A browser on a fresh profile, closed (and its folder removed) on dispose. */
async function browser() {
  const dir = await Deno.makeTempDir({ prefix: "ws4d-chromium-" });
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM ?? "",
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

// playwright-core keeps its own pipes and timers to the browser process.
const browserTest = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "The chat of deno task serve in two Chromium pages",
  ignore: CHROMIUM === undefined,
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

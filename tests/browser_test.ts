/**
 * The chat in a real browser: Debian's chromium, driven by playwright-core:
 * two pages relaying to each other, and pages that come back by themselves
 * (`reconnect`) when `deno task serve` is stopped and started again.
 * The client's own scenarios in Chromium are in tests/runtimes_test.ts.
 * Without a chromium (testkit/provision.ts finds or installs it) this test is
 * ignored, and `.ci/run` fails on that.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStrictEquals,
} from "@std/assert";
import { chromium, type Page } from "npm:playwright-core@^1";
import { Chat } from "./_chat_process.ts";
import { connect, hangUp } from "./_helpers.ts";
import { Relay } from "../testkit/relay.ts";
import { tools } from "../testkit/provision.ts";

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
    assert((await Deno.stat(shot)).size > 1000);
    const bobLog = await bob.locator("#log li").allTextContents();
    assertEquals(bobLog, ["Welcome on the chat!", "Hello from Alice"]);
    await alice.close();
    await bob.waitForSelector("text=Client disconnected", { timeout: 10_000 });
    await bob.close();
    await chat.wss.terminate();
  },
});

/** Waits until the page's status reads exactly `text`. */
function status(page: Page, text: string, timeout = 10_000) {
  return page.waitForSelector(`#status:text-is("${text}")`, { timeout });
}

Deno.test({
  name:
    "The chat's pages reconnect by themselves when deno task serve is stopped and started again",
  ignore: CHROMIUM === undefined,
  ...browserTest,
  async fn() {
    // One worker each, on port 0 then on the port the first one bound.
    await using first = new Chat({ DENO_JOBS: "1" });
    await first.listening();
    const url = `http://127.0.0.1:${first.port}/`;
    await using chrome = await browser();
    const alice = await chrome.context.newPage();
    const bob = await chrome.context.newPage();
    await alice.goto(url);
    await status(alice, "Connected");
    await bob.goto(url);
    await status(bob, "Connected");

    // SIGTERM: the chat closes every client with 1001, which is retried.
    const stopping = first.end();
    await status(alice, "Reconnecting…");
    await status(bob, "Reconnecting…");
    assertMatch(
      await alice.getAttribute("#status", "title") ?? "",
      /^try \d+ in \d+\.\d s \(code 100[16]\)$/,
    );

    await stopping;
    // The same port again: the pages retry the URL they were loaded from.
    await using second = new Chat({
      DENO_JOBS: "1",
      PORT: String(first.port),
    });
    await second.listening();
    assertStrictEquals(second.port, first.port);
    // The defaults: 0.5, 1, 2, 4 s … (± 50 %) between tries.
    await status(alice, "Connected", 30_000);
    await status(bob, "Connected", 30_000);
    await alice.waitForSelector("#log >> text=Reconnected");
    await alice.fill("#text", "Hello again");
    await alice.click("#send");
    await bob.waitForSelector("#log >> text=Hello again", {
      timeout: 10_000,
    });
    const bobLog = await bob.locator("#log li").allTextContents();
    assertStrictEquals(
      bobLog.filter((line) => line === "Reconnected").length,
      1,
    );
    assertStrictEquals(bobLog.at(-1), "Hello again");
    await alice.close();
    await bob.close();
  },
});

Deno.test({
  name:
    "The chat's page misses no message when its TCP is cut under it (resume)",
  ignore: CHROMIUM === undefined,
  ...browserTest,
  async fn() {
    // One worker: a session is resumed on the instance that holds it.
    await using chat = new Chat({ DENO_JOBS: "1" });
    await chat.listening();
    const server = { addr: { port: chat.port } };
    // The page goes through the relay; the sender talks to the chat directly.
    await using relay = new Relay({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    await using chrome = await browser();
    const page = await chrome.context.newPage();
    await page.goto(`http://127.0.0.1:${relay.port}/`);
    await status(page, "Connected");
    const sender = await connect(`ws://127.0.0.1:${server.addr.port}/ws`);
    await page.waitForSelector("#log >> text=New client connected");
    sender.socket.send("before the cut");
    await page.waitForSelector("#log >> text=before the cut");

    // The page's TCP is cut with no close frame; what is sent meanwhile waits
    // in its session on the server and comes on resume.
    relay.cut();
    for (let i = 0; i < 20; i++) sender.socket.send(`during ${i}`);
    await status(page, "Connected", 30_000);
    await page.waitForSelector("#log >> text=Reconnected, nothing missed", {
      timeout: 30_000,
    });
    await page.waitForSelector("#log >> text=during 19", { timeout: 10_000 });
    const log = await page.locator("#log li").allTextContents();
    assertEquals(
      log.filter((line) => line.startsWith("during ")),
      Array.from({ length: 20 }, (_, i) => `during ${i}`),
    );
    assertStrictEquals(
      log.filter((line) => line === "before the cut").length,
      1,
    );
    await page.close();
    await hangUp(sender);
  },
});

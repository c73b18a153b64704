/**
 * The documentation's own tests: README.md and docs/*.md.
 *
 * - Every relative link resolves to a file of the tree, and its `#anchor`, if
 *   any, to a heading of that file (GitHub's anchors: what JSR and GitHub
 *   render).
 * - Every `ts` block is type-checked: those without `ignore` are type-checked
 *   and run by `deno test --doc` (the `test` task lists README.md and every
 *   page of docs/, which this test checks); those marked `ignore` (they need a
 *   host or a process of their own) are extracted and given to `deno check`,
 *   but for those also marked `unchecked`: a block that imports a package the
 *   test machines cannot reach (Fresh and oak are on JSR only), said beside
 *   it in the page.
 * - README.md stays a front door: at most 250 lines.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";

const root = new URL("../", import.meta.url);

/** A markdown heading's anchor as GitHub (and JSR) makes it. */
export function slug(heading: string): string {
  return heading
    .replace(/`/g, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The text of a markdown file outside its fenced code blocks, line by line. */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split("\n").map((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line;
  });
}

/** The anchors of a markdown file's headings, repeated ones numbered. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const line of prose(markdown)) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading === null) continue;
    const base = slug(heading[1] ?? "");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    found.add(count === 0 ? base : `${base}-${count}`);
  }
  return found;
}

/** The link targets of a markdown file, outside code blocks and code spans. */
export function links(markdown: string): string[] {
  const targets: string[] = [];
  for (const line of prose(markdown)) {
    const plain = line.replace(/`[^`]*`/g, "x");
    for (const match of plain.matchAll(/\]\(([^)\s]+)\)/g)) {
      targets.push(match[1] ?? "");
    }
  }
  return targets;
}

/** The `ts` blocks of a markdown file: their info string and their code. */
export function tsBlocks(markdown: string): { info: string; code: string }[] {
  const blocks: { info: string; code: string }[] = [];
  let open: { info: string; lines: string[] } | null = null;
  for (const line of markdown.split("\n")) {
    const fence = /^(\s*)```(.*)$/.exec(line);
    if (open === null) {
      if (fence !== null) open = { info: (fence[2] ?? "").trim(), lines: [] };
      continue;
    }
    if (fence !== null && (fence[2] ?? "").trim() === "") {
      if (/^ts(\s|$)/.test(open.info)) {
        blocks.push({ info: open.info, code: open.lines.join("\n") });
      }
      open = null;
      continue;
    }
    open.lines.push(line);
  }
  return blocks;
}

/** README.md and every page of docs/, as paths from the root. */
async function pages(): Promise<string[]> {
  const found = ["README.md"];
  for await (const entry of Deno.readDir(new URL("docs/", root))) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      found.push(`docs/${entry.name}`);
    }
  }
  return found.sort();
}

/** Every broken link of the given pages: `page: target (why)`. */
export async function brokenLinks(files: string[]): Promise<string[]> {
  const broken: string[] = [];
  for (const file of files) {
    const page = new URL(file, root);
    const text = await Deno.readTextFile(page);
    for (const target of links(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [path = "", anchor] = target.split("#", 2);
      const to = path === "" ? page : new URL(path, page);
      let stat: Deno.FileInfo;
      try {
        stat = await Deno.stat(to);
      } catch {
        broken.push(`${file}: ${target} (no such file)`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!stat.isFile || !to.pathname.endsWith(".md")) {
        broken.push(`${file}: ${target} (an anchor into a non-markdown file)`);
        continue;
      }
      if (!anchors(await Deno.readTextFile(to)).has(anchor)) {
        broken.push(`${file}: ${target} (no heading with that anchor)`);
      }
    }
  }
  return broken;
}

Deno.test("docs: slug() makes GitHub's anchors", () => {
  assertEquals(slug("`wss.stats`"), "wssstats");
  assertEquals(slug("HTTP answers of `wss.fetch`"), "http-answers-of-wssfetch");
  assertEquals(slug("From 4D to ws4d"), "from-4d-to-ws4d");
  assertEquals(slug("The wire format, version 1"), "the-wire-format-version-1");
  assertEquals(
    slug("Sending, and a connection that just left"),
    "sending-and-a-connection-that-just-left",
  );
  assertEquals(
    [...anchors("# A\n## Tests\n```\n# not a heading\n```\n## Tests\n")],
    ["a", "tests", "tests-1"],
  );
});

Deno.test("docs: links() finds links in prose, not in code", () => {
  const text = [
    "See [options](docs/options.md#path) and [`wss.stats`](#wssstats).",
    "`[not](a-link.md)` and <https://example.com>",
    "```ts",
    "const a = [b](c);",
    "```",
    "[site](https://jsr.io/@ws4d/websocket)",
  ].join("\n");
  assertEquals(links(text), [
    "docs/options.md#path",
    "#wssstats",
    "https://jsr.io/@ws4d/websocket",
  ]);
});

Deno.test("docs: every relative link of README.md and docs/*.md resolves, #anchors included", async () => {
  const files = await pages();
  assert(files.length > 1, "docs/ has pages");
  assertEquals(await brokenLinks(files), []);
});

Deno.test("docs: brokenLinks() reports a missing file and a missing anchor", async () => {
  const dir = await Deno.makeTempDir({ dir: new URL("docs/", root).pathname });
  try {
    const name = dir.slice(dir.lastIndexOf("/") + 1);
    await Deno.writeTextFile(
      `${dir}/page.md`,
      "# Page\n\n[gone](../nowhere.md) [bad](../options.md#no-such) [good](../options.md) [self](#page)\n",
    );
    assertEquals(await brokenLinks([`docs/${name}/page.md`]), [
      `docs/${name}/page.md: ../nowhere.md (no such file)`,
      `docs/${name}/page.md: ../options.md#no-such (no heading with that anchor)`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("docs: the test task runs the ts blocks of README.md and of every docs page (deno test --doc)", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", root)),
  );
  const task: string = config.tasks.test;
  const doc = task.slice(task.indexOf("--doc"));
  const listed = new Set(doc.split(/\s+/));
  const missing = (await pages()).filter((page) => !listed.has(page));
  assertEquals(missing, [], "add these to --doc in deno.json's test task");
});

Deno.test("docs: every ts block marked ignore type-checks (deno check)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ws4d_docs_" });
  try {
    const files: string[] = [];
    for (const page of await pages()) {
      const text = await Deno.readTextFile(new URL(page, root));
      const ignored = tsBlocks(text).filter((block) => {
        const words = block.info.split(/\s+/);
        return words.includes("ignore") && !words.includes("unchecked");
      });
      for (const [i, block] of ignored.entries()) {
        const file = `${dir}/${page.replace(/\W/g, "_")}_${i}.ts`;
        await Deno.writeTextFile(file, `${block.code}\nexport {};\n`);
        files.push(file);
      }
    }
    assert(files.length > 0, "no ignored block found: is the parser right?");
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "check",
        "--quiet",
        "--config",
        new URL("deno.json", root).pathname,
        ...files,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert(success, new TextDecoder().decode(stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("docs: README.md is a front door, at most 250 lines", async () => {
  const lines = (await Deno.readTextFile(new URL("README.md", root)))
    .trimEnd().split("\n").length;
  assert(lines <= 250, `README.md has ${lines} lines`);
});

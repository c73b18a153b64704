/**
 * The library's sources stay Latin-1: V8 keeps the source of every module a
 * server loads for the life of the process, as one byte per character, or
 * two for the whole file as soon as it holds one character above U+00FF
 * (an arrow or a dash in a comment doubled ws4d's sources in memory).
 *
 * @module
 */
import { assertEquals } from "@std/assert";

Deno.test("the library's sources hold no character above U+00FF", async () => {
  const root = new URL("../", import.meta.url);
  const found: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, root));
    const lines = text.split("\n");
    lines.forEach((line, i) => {
      // deno-lint-ignore no-control-regex
      const wide = line.match(/[^\u0000-\u00ff]/u);
      if (wide !== null) found.push(`${entry.name}:${i + 1}: ${wide[0]}`);
    });
  }
  assertEquals(found, []);
});

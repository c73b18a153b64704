import { assert, assertEquals, assertThrows } from "@std/assert";
import { entries, errorCount } from "./_doc_lint.ts";

Deno.test("_doc_lint entries(): every exports entry of deno.json, each a file that exists", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  const listed = entries(config.exports);
  assertEquals(
    listed.map((entry) => entry.name),
    Object.keys(config.exports),
  );
  for (const { file } of listed) {
    const stat = await Deno.stat(new URL(`../${file}`, import.meta.url));
    assert(stat.isFile, file);
  }
  assertEquals(entries("./mod.ts"), [{ name: ".", file: "./mod.ts" }]);
  assertThrows(() => entries(undefined), TypeError);
  assertThrows(() => entries({ ".": 1 }), TypeError);
});

Deno.test("_doc_lint errorCount() reads deno doc's count, colours or not", () => {
  assertEquals(errorCount("error: Found 9 documentation lint errors.\n"), 9);
  assertEquals(
    errorCount("\x1b[31merror\x1b[0m: Found 1 documentation lint error."),
    1,
  );
  assertEquals(errorCount("Checked 1 file\n"), 0);
});

import assert from "node:assert/strict";
import { entries, errorCount } from "./_doc_lint.ts";

Deno.test("_doc_lint entries(): every exports entry of deno.json, each a file that exists", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  const listed = entries(config.exports);
  assert.deepEqual(
    listed.map((entry) => entry.name),
    Object.keys(config.exports),
  );
  for (const { file } of listed) {
    const stat = await Deno.stat(new URL(`../${file}`, import.meta.url));
    assert.ok(stat.isFile, file);
  }
  assert.deepEqual(entries("./mod.ts"), [{ name: ".", file: "./mod.ts" }]);
  assert.throws(() => entries(undefined), TypeError);
  assert.throws(() => entries({ ".": 1 }), TypeError);
});

Deno.test("_doc_lint errorCount() reads deno doc's count, colours or not", () => {
  assert.equal(errorCount("error: Found 9 documentation lint errors.\n"), 9);
  assert.equal(
    errorCount("\x1b[31merror\x1b[0m: Found 1 documentation lint error."),
    1,
  );
  assert.equal(errorCount("Checked 1 file\n"), 0);
});

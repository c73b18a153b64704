/**
 * `deno doc --lint` on each entry of deno.json's `exports`, one at a time:
 * JSR shows each entry's page by itself, so each must export every type its
 * own signatures name. deno.json's `exports` is the only list of entries:
 * the `check` task and `.ci/run` both run this script.
 *
 * ```sh
 * deno run --allow-read --allow-run tests/_doc_lint.ts
 * ```
 *
 * It prints each entry's lint errors, then one line per entry, and exits
 * with 1 if any entry fails.
 *
 * @module
 */

/**
 * The entries of a deno.json `exports`: its key (`"."` for a lone string)
 * and its file, in order.
 *
 * @example
 * ```ts
 * import { entries } from "./_doc_lint.ts";
 * const listed = entries({ ".": "./mod.ts", "./client": "./client.ts" });
 * console.assert(listed[1]?.file === "./client.ts");
 * console.assert(entries("./mod.ts")[0]?.name === ".");
 * ```
 */
export function entries(
  exports: unknown,
): { name: string; file: string }[] {
  if (typeof exports === "string") return [{ name: ".", file: exports }];
  if (typeof exports !== "object" || exports === null) {
    throw new TypeError("deno.json has no exports");
  }
  return Object.entries(exports).map(([name, file]) => {
    if (typeof file !== "string") {
      throw new TypeError(`deno.json's exports["${name}"] is not a path`);
    }
    return { name, file };
  });
}

/** The number of errors `deno doc --lint` reported (0 when it found none). */
export function errorCount(output: string): number {
  // deno-lint-ignore no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const found = /Found (\d+) documentation lint errors?/.exec(plain);
  return found === null ? 0 : Number(found[1]);
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url);
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", root)),
  );
  const lines: string[] = [];
  let failed = 0;
  for (const { name, file } of entries(config.exports)) {
    const { success, stdout, stderr } = await new Deno.Command(
      Deno.execPath(),
      {
        args: ["doc", "--lint", file],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      },
    ).output();
    const output = new TextDecoder().decode(stdout) +
      new TextDecoder().decode(stderr);
    if (success) {
      lines.push(`ok    ${name} (${file})`);
      continue;
    }
    failed++;
    // deno-lint-ignore no-console
    console.error(output);
    const count = errorCount(output);
    lines.push(
      `FAIL  ${name} (${file}): ${
        count > 0 ? `${count} error(s)` : "deno doc --lint failed"
      }`,
    );
  }
  // deno-lint-ignore no-console
  console.log(
    `deno doc --lint, each exports entry alone:\n${lines.join("\n")}`,
  );
  if (failed > 0) Deno.exit(1);
}

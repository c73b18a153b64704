/**
 * One session across instances (issue 22): `bench/cluster.ts` run as a
 * child process, its figures as a section of the report: echo round trips
 * through a relayed session against a local one (BroadcastChannel, Redis),
 * cut to resumed on another instance, and the local path with a backplane
 * against none.
 *
 * @module
 */
import type { Runner } from "../_runner.ts";

/** The section: what `bench/cluster.ts` printed, one item per line. */
export async function clusterSection(_runner: Runner): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../cluster.ts", import.meta.url).pathname,
      "--trips",
      "2000",
      "--cuts",
      "100",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    const why = new TextDecoder().decode(output.stderr).trim();
    return `### One session across instances\n\nFailed: ${why}`;
  }
  const lines = text.split("\n").map((line) => `- ${line}`).join("\n");
  return `### One session across instances (bench/cluster.ts)\n\n${lines}`;
}

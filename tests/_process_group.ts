/**
 * Child processes with all their descendants: {@linkcode spawnGroup} starts
 * a command as the leader of a new process group (`setsid`), so that
 * {@linkcode killGroup} ends it and every process it started (`deno task`
 * starts `deno run`, which starts `deno serve` and its workers), also when
 * a test fails half-way.
 *
 * @module
 */

/** Whether `setsid` runs here (Linux; elsewhere, the child alone). */
function hasSetsid(): boolean {
  try {
    return new Deno.Command("setsid", { args: ["true"] }).outputSync().success;
  } catch {
    return false;
  }
}

const SETSID = Deno.build.os !== "windows" && hasSetsid();

/**
 * Spawns `command` with `options` in a process group of its own.
 *
 * @example
 * ```ts
 * import { killGroup, spawnGroup } from "./_process_group.ts";
 * const child = spawnGroup("sleep", { args: ["30"], stdout: "null" });
 * killGroup(child);
 * await child.status;
 * ```
 */
export function spawnGroup(
  command: string,
  options: Deno.CommandOptions,
): Deno.ChildProcess {
  if (!SETSID) return new Deno.Command(command, options).spawn();
  return new Deno.Command("setsid", {
    ...options,
    args: [command, ...(options.args ?? [])],
  }).spawn();
}

/** SIGKILL to the group of `child`: it and every process it started. */
export function killGroup(child: Deno.ChildProcess): void {
  try {
    if (SETSID) Deno.kill(-child.pid, "SIGKILL");
    else child.kill("SIGKILL");
  } catch {
    // Every one of them has exited already.
  }
}

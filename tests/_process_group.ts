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

/**
 * SIGKILL to the group of `child`: it and every process it started. The
 * child itself too: killed at once after its spawn, it may not have made
 * its group yet (`setsid` runs in the child), and then has no descendant.
 */
export function killGroup(child: Deno.ChildProcess): void {
  if (SETSID) {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // No such group: not made yet, or every one of them has exited.
    }
  }
  try {
    child.kill("SIGKILL");
  } catch {
    // It has exited already.
  }
}

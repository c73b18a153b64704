/**
 * What Linux says about a process: CPU time from `/proc/<pid>/stat`, resident
 * memory from `/proc/<pid>/status`. Both cover every thread of the process.
 *
 * @module
 */

/** Clock ticks per second of `utime`/`stime` (`getconf CLK_TCK`: 100 on Linux). */
const CLOCK_TICKS = 100;

/**
 * User + system CPU seconds used so far by `pid`. Deno lets a program read
 * `/proc/<pid>/` only with `--allow-all`.
 */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name, field 2, may hold spaces: count from its closing ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 (utime) and 15 (stime), counted from field 3 (state) here.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS;
}

/** Resident set size of `pid` in KiB (`VmRSS`). */
export function rssKiB(pid: number): number {
  return rssParts(pid).rss;
}

/**
 * Resident set size of `pid` in KiB (`VmRSS`), and its file-backed part
 * (`RssFile`: mapped files, the executable's pages among them).
 */
export function rssParts(pid: number): { rss: number; file: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status);
    if (match === null) throw new Error(`No ${name} in /proc/${pid}/status`);
    return Number(match[1]);
  };
  return { rss: field("VmRSS"), file: field("RssFile") };
}

/** The CPU model, for the report's header. */
export function cpuModel(): string {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

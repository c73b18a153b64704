/**
 * Idle memory: the server's VmRSS and JS heap in use (after forced GCs)
 * with N idle connections minus the same with none, ÷ N, for raw, raw
 * copying the request headers as ws4d must, and every ws4d variant of the
 * run.
 *
 * @module
 */
import { delay as sleep } from "@std/async/delay";
import type { Child } from "../_child.ts";
import { openFilesLimit } from "../_child.ts";
import { rssKiB } from "../_proc.ts";
import { parseReady } from "../_protocol.ts";
import {
  heap,
  type Measurement,
  medianOf,
  rate,
  ratioCell,
  table,
  values,
} from "../_report.ts";
import { connectTimeout, type Runner, split } from "../_runner.ts";
import { formatCount, formatFixed, formatSpread } from "../_stats.ts";
import { RAW_HEADERS, type ServerVariant } from "../_variants.ts";

const TARGET = 10_000;

/** Asks the server a question on its stdin and reads the answer. */
async function ask(server: Child, question: string): Promise<string> {
  await server.send(question);
  return await server.readLine(20_000, `the answer to ${question}`);
}

/**
 * The server's JS heap in use (bytes) and VmRSS (KiB) after forced GCs and
 * a pause.
 */
async function settledMemory(
  server: Child,
): Promise<{ heap: number; rss: number }> {
  await ask(server, "gc");
  await sleep(1_000);
  const heap = Number(await ask(server, "heap"));
  await sleep(500);
  return { heap, rss: rssKiB(server.pid) };
}

function idleRound(
  runner: Runner,
  variant: ServerVariant,
  target: number,
): Promise<Measurement> {
  return runner.inRound(async (round) => {
    const { server, url } = await round.server(variant, {
      scenario: "echo",
      dataType: "text",
    });
    const before = await settledMemory(server);
    const loads = split(target).map((conns, i) =>
      round.load(`load ${i}`, { mode: "idle", url, conns })
    );
    await Promise.all(
      loads.map(async (load) =>
        parseReady(await load.readLine(connectTimeout(target), "ready"))
      ),
    );
    const reached = Number(await ask(server, "count"));
    const after = await settledMemory(server);
    // Idle load processes hold their connections until killed.
    await Promise.all(loads.map((load) => load.kill()));
    return {
      value: reached > 0 ? (after.rss - before.rss) / reached : NaN,
      heap: reached > 0 ? (after.heap - before.heap) / reached : NaN,
      p50: NaN,
      p99: NaN,
      serverCpu: NaN,
      loadCpu: [],
      errors: target - reached,
      reached,
    };
  });
}

/** The idle memory table. */
export async function idleSection(runner: Runner): Promise<string> {
  const limit = await openFilesLimit();
  // The server holds one descriptor per connection, plus a few of its own.
  const target = Math.min(TARGET, Math.floor(limit - 100));
  const [raw, ...rest] = runner.settings.variants;
  const variants = raw === undefined ? [] : [raw, RAW_HEADERS, ...rest];
  const samples = await runner.alternate(
    `idle ${target}`,
    variants,
    (variant) => idleRound(runner, variant, target),
    false,
  );
  const reached = Math.min(
    ...[...samples.values()].flat().map((m) => m.reached ?? 0),
  );
  const kib = (v: number) => formatFixed(v, 2);
  const rows = variants.map((variant) => {
    const name = variant.name;
    const first = name === "raw";
    return [
      name === RAW_HEADERS.name ? RAW_HEADERS.about : name,
      formatSpread(values(samples, name, rate), kib),
      first
        ? ""
        : `+${
          kib(medianOf(samples, name, rate) - medianOf(samples, "raw", rate))
        }`,
      formatCount(medianOf(samples, name, heap)),
      first ? "" : `+${
        formatCount(
          medianOf(samples, name, heap) - medianOf(samples, "raw", heap),
        )
      }`,
      ratioCell(samples, "raw", name, rate),
    ];
  });
  const note = reached >= TARGET
    ? ""
    : `\n\nOnly ${reached} of ${TARGET} connections could be held (open files limit ${limit}).`;
  return `### Idle memory (${
    formatCount(reached)
  } idle connections: server VmRSS and JS heap with them − with none, ÷ N)\n\n${
    table([
      "server",
      "VmRSS KiB/conn",
      "− raw",
      "JS heap B/conn",
      "− raw",
      "VmRSS ÷ raw",
    ], rows)
  }\n\nThe 4D contract gives \`onConnection\` and \`ws.request\` every request header, and Deno forbids reading them after the upgrade, so ws4d copies them first; the raw-headers row is raw Deno doing only that.${note}`;
}

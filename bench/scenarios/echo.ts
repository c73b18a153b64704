/**
 * Echo: connections each keeping a fixed number of messages in flight,
 * every round trip timed from send to reply, for every server variant of
 * the run. `--quick` is one case of it; `datatype` reuses its rounds.
 *
 * @module
 */
import type { Payload } from "../_protocol.ts";
import {
  type Measurement,
  p99,
  rate,
  RATE_HEAD,
  rateRows,
  ratioTo,
  table,
} from "../_report.ts";
import { connectTimeout, type Runner, split } from "../_runner.ts";
import type { Samples } from "../_report.ts";
import type { ServerVariant } from "../_variants.ts";
import { parseReady } from "../_protocol.ts";

/** One echo load. */
export interface EchoCase {
  readonly conns: number;
  readonly inflight: number;
  readonly payload: Payload;
  readonly size: number;
}

/** The case of `--quick` (and of the datatype rows). */
export const QUICK_CASE: EchoCase = {
  conns: 64,
  inflight: 16,
  payload: "text",
  size: 64,
};

/** `64 B` or `16 KiB`. */
export function sizeLabel(size: number): string {
  return size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

function label(c: EchoCase): string {
  return `echo ${c.conns}×${c.inflight} ${sizeLabel(c.size)} ${c.payload}`;
}

function echoRound(
  runner: Runner,
  variant: ServerVariant,
  c: EchoCase,
): Promise<Measurement> {
  return runner.inRound(async (round) => {
    const { server, url } = await round.server(variant, {
      scenario: "echo",
      dataType: c.payload,
    });
    const loads = split(c.conns).map((conns, i) =>
      round.load(`load ${i}`, {
        mode: "echo",
        url,
        conns,
        inflight: c.inflight,
        payload: c.payload,
        size: c.size,
        serverPid: i === 0 ? server.pid : 0,
        ...runner.window,
      })
    );
    await Promise.all(
      loads.map(async (load) =>
        parseReady(await load.readLine(connectTimeout(c.conns), "ready"))
      ),
    );
    return round.measure(loads);
  });
}

/**
 * The rounds of `c` for every variant of the run (or of `variants`, named
 * `group` in the load-generator check), once per run.
 */
export function runEcho(
  runner: Runner,
  c: EchoCase,
  variants: readonly ServerVariant[] = runner.settings.variants,
  group = "",
): Promise<Samples> {
  const name = group === "" ? label(c) : `${label(c)} ${group}`;
  return runner.cached(
    name,
    () =>
      runner.alternate(
        name,
        variants,
        (variant) => echoRound(runner, variant, c),
      ),
  );
}

const HEAD = ["conns", "in flight", "size", ...RATE_HEAD];

/** The echo rows of issue #25's goal: ws4d ≥ 0.97 of raw, p99 ≤ 1.1× raw. */
const GOAL_CASES: readonly (readonly [number, number, number])[] = [
  [512, 1, 64],
  [1, 16, 16 * 1024],
  [64, 16, 64],
];

/** Notes the goal rows of `c`, when it is one of issue #25's. */
function noteGoals(runner: Runner, c: EchoCase, samples: Samples): void {
  if (
    c.payload !== "text" ||
    !GOAL_CASES.some(([conns, inflight, size]) =>
      c.conns === conns && c.inflight === inflight && c.size === size
    )
  ) return;
  const row = `echo ${c.conns}×${c.inflight} ${sizeLabel(c.size)}`;
  runner.goal(
    {
      row: `${row} ws4d ÷ raw`,
      value: ratioTo(samples, "raw", "ws4d", rate),
      limit: 0.97,
      atMost: false,
    },
    {
      row: `${row} p99 ws4d ÷ raw`,
      value: ratioTo(samples, "raw", "ws4d", p99),
      limit: 1.1,
      atMost: true,
    },
  );
}

/** The `--quick` table: the one case. */
export async function quickSection(
  runner: Runner,
): Promise<{ text: string; samples: Samples }> {
  const samples = await runEcho(runner, QUICK_CASE);
  const c = QUICK_CASE;
  noteGoals(runner, c, samples);
  return {
    text: `### Echo (text)\n\n${
      table(
        HEAD,
        rateRows(
          [String(c.conns), String(c.inflight), sizeLabel(c.size)],
          samples,
        ),
      )
    }`,
    samples,
  };
}

/** Every echo case: 1, 64, 512 connections × 1, 16 in flight × 64 B, 16 KiB. */
export async function echoSection(runner: Runner): Promise<string> {
  const rows: string[][] = [];
  for (const conns of [1, 64, 512]) {
    for (const inflight of [1, 16]) {
      for (const size of [64, 16 * 1024]) {
        const c: EchoCase = { conns, inflight, payload: "text", size };
        const samples = await runEcho(runner, c);
        noteGoals(runner, c, samples);
        rows.push(
          ...rateRows(
            [String(conns), String(inflight), sizeLabel(size)],
            samples,
          ),
        );
      }
    }
  }
  return `### Echo throughput (text)\n\n${table(HEAD, rows)}`;
}

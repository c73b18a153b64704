/**
 * Connection setup: loops that open a connection, wait for the greeting,
 * close it and wait for the close, for every server variant of the run.
 *
 * @module
 */
import { parseReady } from "../_protocol.ts";
import {
  cpuPerOp,
  latencyCell,
  type Measurement,
  medianOf,
  rate,
  ratioCell,
  spread,
  table,
} from "../_report.ts";
import type { Runner } from "../_runner.ts";
import { formatFixed } from "../_stats.ts";
import type { ServerVariant } from "../_variants.ts";

/** Loops per load process. */
const CONCURRENCY = 16;

function setupRound(
  runner: Runner,
  variant: ServerVariant,
): Promise<Measurement> {
  return runner.inRound(async (round) => {
    const { server, url } = await round.server(variant, {
      scenario: "echo",
      dataType: "text",
    });
    const loads = [0, 1].map((i) =>
      round.load(`load ${i}`, {
        mode: "setup",
        url,
        concurrency: CONCURRENCY,
        serverPid: i === 0 ? server.pid : 0,
        ...runner.window,
      })
    );
    await Promise.all(
      loads.map(async (load) =>
        parseReady(await load.readLine(20_000, "ready"))
      ),
    );
    return round.measure(loads);
  });
}

/** The setup table. */
export async function setupSection(runner: Runner): Promise<string> {
  const samples = await runner.alternate(
    "connection setup",
    runner.settings.variants,
    (variant) => setupRound(runner, variant),
  );
  const rows = [...samples.keys()].map((variant) => [
    String(CONCURRENCY * 2),
    variant,
    spread(samples, variant),
    ratioCell(samples, "raw", variant, rate),
    ratioCell(samples, "ws4d", variant, rate),
    latencyCell(samples, variant),
    formatFixed(medianOf(samples, variant, cpuPerOp), 1),
    ratioCell(samples, "raw", variant, cpuPerOp),
  ]);
  return `### Connection setup (open, greeted with "hi", closed)\n\n${
    table([
      "concurrent",
      "server",
      "conn/s",
      "÷ raw",
      "÷ ws4d",
      "p50 / p99 ms",
      "server CPU µs/conn",
      "CPU ÷ raw",
    ], rows)
  }\n\nThis rate is not the server's: a load process spends about as much CPU per connection as the server, and the kernel churns ~20,000 connections and TIME_WAITs per round, so it varies from run to run (see the last table). The server's CPU time per connection is the steadier comparison.`;
}

/**
 * Option costs: the plain ws4d server against ws4d with each option that
 * users turn on (issue #25), on echo 64 × 16 × 64 B, rounds alternated:
 * `resume: true`, a generous `rateLimit` that no round reaches, stats read
 * by an OpenTelemetry meter (`bench/preload_otel.ts`), a
 * `BroadcastChannelBackplane` with no other instance, and every connection
 * subscribed to one topic (the echo unchanged).
 *
 * @module
 */
import {
  latencyCell,
  p99,
  rate,
  ratioCell,
  ratioTo,
  spread,
  table,
} from "../_report.ts";
import type { Runner } from "../_runner.ts";
import { formatFixed } from "../_stats.ts";
import { type ServerVariant, WS4D } from "../_variants.ts";
import { type EchoCase, QUICK_CASE, runEcho, sizeLabel } from "./echo.ts";

const PRELOAD_OTEL = new URL("../preload_otel.ts", import.meta.url).pathname;

/** An option's server and the least it may keep of the plain server's rate. */
interface OptionRow {
  readonly variant: ServerVariant;
  /** How the server is made, for the table. */
  readonly how: string;
  readonly goal: number;
}

/**
 * A rate limit far above any round: a billion messages and a terabyte a
 * second per connection, so every message pays the bucket and none is cut.
 */
const GENEROUS = { messages: 1e9, bytes: 1e12, per: 1 };

/** The option rows, in the order run and printed. */
export const OPTION_ROWS: readonly OptionRow[] = [
  {
    variant: {
      name: "resume",
      impl: "ws4d",
      options: { resume: true },
      about: "ws4d with `resume: true`",
    },
    how: "`resume: true` (the load's client does not ask to resume)",
    goal: 0.95,
  },
  {
    variant: {
      name: "rateLimit",
      impl: "ws4d",
      options: { rateLimit: GENEROUS },
      about: "ws4d with a `rateLimit` never reached",
    },
    how: `\`rateLimit: ${JSON.stringify(GENEROUS)}\` (never reached)`,
    goal: 0.97,
  },
  {
    variant: {
      name: "otel",
      impl: "ws4d",
      preload: PRELOAD_OTEL,
      about: "ws4d observed by an OpenTelemetry meter",
    },
    how:
      "`observeServer(wss, { meterProvider })`, SDK exporting to memory every second",
    goal: 0.97,
  },
  {
    variant: {
      name: "backplane",
      impl: "ws4d",
      extra: "backplane",
      about: "ws4d with a `BroadcastChannelBackplane`, no other instance",
    },
    how: "`backplane: new BroadcastChannelBackplane(name)`, no other instance",
    goal: 0.97,
  },
  {
    variant: {
      name: "topic",
      impl: "ws4d",
      extra: "topic",
      about: "ws4d, every connection subscribed to one topic",
    },
    how: "`ws.subscribe(topic)` at open, every connection; echo unchanged",
    goal: 0.97,
  },
];

/** The "Option costs" table, with its goal rows. */
export async function optionsSection(runner: Runner): Promise<string> {
  const c: EchoCase = QUICK_CASE;
  const samples = await runEcho(
    runner,
    c,
    [WS4D, ...OPTION_ROWS.map((row) => row.variant)],
    "options",
  );
  const rows = [
    [
      WS4D.name,
      "none",
      spread(samples, WS4D.name),
      "",
      "",
      latencyCell(samples, WS4D.name),
      "",
    ],
    ...OPTION_ROWS.map(({ variant, how, goal }) => {
      const value = ratioTo(samples, WS4D.name, variant.name, rate);
      runner.goal({
        row: `option ${variant.name} ÷ ws4d`,
        value,
        limit: goal,
        atMost: false,
      });
      return [
        variant.name,
        how,
        spread(samples, variant.name),
        ratioCell(samples, WS4D.name, variant.name, rate),
        `≥ ${formatFixed(goal, 2)}`,
        latencyCell(samples, variant.name),
        ratioCell(samples, WS4D.name, variant.name, p99),
      ];
    }),
  ];
  return `### Option costs (echo ${c.conns} conns × ${c.inflight} in flight × ${
    sizeLabel(c.size)
  }, against the plain ws4d server)\n\n${
    table([
      "server",
      "option",
      "msg/s",
      "÷ ws4d",
      "goal",
      "p50 / p99 ms",
      "p99 ÷ ws4d",
    ], rows)
  }`;
}

/**
 * Echo per `dataType`: the `--quick` case under `"text"`, `"blob"` and
 * `"object"` (JSON parsed and stringified), for every server variant.
 *
 * @module
 */
import { RATE_HEAD, rateRows, table } from "../_report.ts";
import type { Runner } from "../_runner.ts";
import { QUICK_CASE, runEcho } from "./echo.ts";

/** The table of the three data types. */
export async function dataTypeSection(runner: Runner): Promise<string> {
  const rows: string[][] = [];
  for (const payload of ["text", "blob", "object"] as const) {
    const samples = await runEcho(runner, { ...QUICK_CASE, payload });
    rows.push(
      ...rateRows(
        [payload, payload === "object" ? "80 B JSON" : "64 B"],
        samples,
      ),
    );
  }
  return `### Echo per dataType (${QUICK_CASE.conns} conns × ${QUICK_CASE.inflight} in flight)\n\n${
    table(["dataType", "message", ...RATE_HEAD], rows)
  }\n\nThe text rows are the same runs as the ${QUICK_CASE.conns} × ${QUICK_CASE.inflight} × 64 B rows of the echo table, when both run.`;
}

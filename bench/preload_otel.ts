/**
 * A `--preload` for the bench's ws4d server: an OpenTelemetry SDK
 * `MeterProvider` exporting every second to memory, and `observeServer` on
 * the server once it starts, to measure what metrics cost the message path.
 *
 * ```sh
 * deno task bench --quick --preload otel=bench/preload_otel.ts
 * ```
 *
 * @module
 */
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "npm:@opentelemetry/sdk-metrics@^3";
import { observeServer, type WSStatsSource } from "../otel.ts";

const meterProvider = new MeterProvider({
  readers: [
    new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 1000,
    }),
  ],
});

(globalThis as { ws4dBenchServerStarted?: (wss: unknown) => void })
  .ws4dBenchServerStarted = (wss) => {
    observeServer(wss as WSStatsSource, { meterProvider });
  };

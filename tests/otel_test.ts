import {
  assertEquals,
  assertNotEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { deadline } from "@std/async";
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from "npm:@opentelemetry/sdk-metrics@^3";
// The official OTLP protos compiled by protobufjs, as shipped by the
// OpenTelemetry JS project; 0.215.0 is the last otlp-transformer that ships
// them (later ones serialize by hand and cannot decode a request).
import otlpRoot from "npm:@opentelemetry/otlp-transformer@0.215.0/build/src/generated/root.js";
import { observeServer } from "../otel.ts";
import { connect, hangUp, listen, Recorder } from "./_helpers.ts";
import {
  changeCounts,
  expectedPoints,
  fakeServer,
  INSTRUMENTS,
  type Point,
  sorted,
} from "./_otel_source.ts";

/** A reader that collects when the test asks, cumulative as OTLP's default. */
class TestReader extends MetricReader {
  constructor() {
    super({
      aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
    });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

function sdk(): { reader: TestReader; meterProvider: MeterProvider } {
  const reader = new TestReader();
  return { reader, meterProvider: new MeterProvider({ readers: [reader] }) };
}

/** The ws4d data points of one collection, and each metric's shape. */
function pointsOf(resourceMetrics: ResourceMetrics): {
  points: Point[];
  shapes: { name: string; unit: string; monotonic: boolean }[];
} {
  const points: Point[] = [];
  const shapes = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    assertEquals(scope.scope.name, "@ws4d/websocket");
    for (const metric of scope.metrics) {
      assertStrictEquals(metric.dataPointType, DataPointType.SUM);
      shapes.push({
        name: metric.descriptor.name,
        unit: metric.descriptor.unit,
        monotonic: metric.isMonotonic,
      });
      for (const point of metric.dataPoints) {
        points.push({
          name: metric.descriptor.name,
          attributes: { ...point.attributes },
          value: point.value,
        });
      }
    }
  }
  return { points: sorted(points), shapes };
}

Deno.test("observeServer() exports every field of stats with its attributes, read once per collection", async () => {
  const { reader, meterProvider } = sdk();
  // The stand-in for wss.stats: every field set (a real server would leave
  // most at 0), so that a field sent to the wrong metric or attribute fails.
  const server = fakeServer("/chat/:room");
  const base = { "http.route": "/chat/:room" };
  try {
    using _metrics = observeServer(server, { meterProvider });
    assertEquals(server.reads, 1); // observeServer checks it once

    const first = pointsOf((await reader.collect()).resourceMetrics);
    assertEquals(server.reads, 2);
    assertEquals(
      first.shapes.sort((a, b) => a.name < b.name ? -1 : 1),
      [...INSTRUMENTS].sort((a, b) => a.name < b.name ? -1 : 1),
    );
    assertEquals(first.points, expectedPoints(server.stats, base));

    changeCounts(server.counts);
    const second = pointsOf((await reader.collect()).resourceMetrics);
    assertEquals(second.points, expectedPoints(server.stats, base));
    assertNotEquals(second.points, first.points);
    assertEquals(server.reads, 5); // + one per collection, + two by the test
  } finally {
    await meterProvider.shutdown();
  }
});

Deno.test("observeServer() on a real server: the exported metrics equal wss.stats after a scripted session", async () => {
  const { reader, meterProvider } = sdk();
  const recorder = new Recorder({
    onMessage: (ws, event) => void ws.send(event.data),
  });
  await using server = listen({
    onConnection: (_wss, { request }) =>
      request.query.refuse === "1" ? null : recorder,
  }, { path: "/otel" });
  try {
    using _metrics = observeServer(server.wss, { meterProvider });
    const refused = new WebSocket(`${server.url}/otel?refuse=1`);
    await new Promise((resolve) => refused.onerror = refused.onclose = resolve);
    const peer = await connect(`${server.url}/otel`);
    peer.socket.send("hello");
    await peer.received(1);
    server.wss.broadcast("all");
    await peer.received(2);
    await hangUp(peer);
    await recorder.terminated();
    const stats = server.wss.stats;
    assertEquals(stats.connectionsTotal, 1);
    assertEquals(stats.messagesSent, 2);
    const { points } = pointsOf((await reader.collect()).resourceMetrics);
    assertEquals(points, expectedPoints(stats, { "http.route": "/otel" }));
  } finally {
    await meterProvider.shutdown();
  }
});

Deno.test("observeServer()'s disposer removes the callback: stats are no longer read", async () => {
  const { reader, meterProvider } = sdk();
  const server = fakeServer("/ws");
  try {
    const metrics = observeServer(server, { meterProvider });
    const before = pointsOf((await reader.collect()).resourceMetrics).points;
    metrics[Symbol.dispose]();
    metrics[Symbol.dispose](); // a second call does nothing
    changeCounts(server.counts);
    const after = pointsOf((await reader.collect()).resourceMetrics).points;
    assertEquals(server.reads, 2); // observeServer's check, one collection
    // The SDK repeats the last cumulative values; none comes from the change.
    assertEquals(after, before);
  } finally {
    await meterProvider.shutdown();
  }
});

Deno.test("observeServer() keeps two servers apart by http.route, adds attributes, and omits http.route without a path", async () => {
  const { reader, meterProvider } = sdk();
  const chat = fakeServer("/chat");
  const news = fakeServer("/news");
  const any = fakeServer(undefined);
  changeCounts(news.counts);
  try {
    using _chat = observeServer(chat, { meterProvider });
    using _news = observeServer(news, {
      meterProvider,
      attributes: { "deployment.environment.name": "test" },
    });
    using _any = observeServer(any, {
      meterProvider,
      attributes: { "ws4d.server.name": "fallback" },
    });
    const { points } = pointsOf((await reader.collect()).resourceMetrics);
    assertEquals(
      points,
      sorted([
        ...expectedPoints(chat.stats, { "http.route": "/chat" }),
        ...expectedPoints(news.stats, {
          "http.route": "/news",
          "deployment.environment.name": "test",
        }),
        ...expectedPoints(any.stats, { "ws4d.server.name": "fallback" }),
      ]),
    );
  } finally {
    await meterProvider.shutdown();
  }
});

Deno.test("observeServer() takes a meter instead of a provider", async () => {
  const { reader, meterProvider } = sdk();
  const server = fakeServer("/ws");
  try {
    using _metrics = observeServer(server, {
      meter: meterProvider.getMeter("my-app"),
    });
    const { resourceMetrics } = await reader.collect();
    assertEquals(resourceMetrics.scopeMetrics.map((s) => s.scope.name), [
      "my-app",
    ]);
    const names = resourceMetrics.scopeMetrics[0]?.metrics.map((m) =>
      m.descriptor.name
    );
    assertEquals(names?.sort(), INSTRUMENTS.map((i) => i.name).sort());
  } finally {
    await meterProvider.shutdown();
  }
});

Deno.test("observeServer() throws TypeError for a bad source or bad options", () => {
  const server = fakeServer("/ws");
  assertThrows(
    // @ts-expect-error: no stats
    () => observeServer({ path: "/ws" }),
    TypeError,
    "it must have a stats object",
  );
  assertThrows(
    // @ts-expect-error: an unknown option
    () => observeServer(server, { provider: {} }),
    TypeError,
    'unknown option, current value is "provider"',
  );
  const { meterProvider } = sdk();
  assertThrows(
    () =>
      observeServer(server, {
        meterProvider,
        meter: meterProvider.getMeter("x"),
      }),
    TypeError,
    "one of the options meter and meterProvider",
  );
  assertThrows(
    // @ts-expect-error: attributes must be an object
    () => observeServer(server, { attributes: "route" }),
    TypeError,
    "attributes must be an object",
  );
});

// ---- End to end: Deno's own OpenTelemetry, OTLP/HTTP to a loopback server ----

/** What this test reads of a decoded ExportMetricsServiceRequest. */
interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
}
interface OtlpNumberPoint {
  attributes?: { key: string; value: OtlpAnyValue }[];
  asDouble?: number;
  asInt?: string;
}
interface OtlpMetric {
  name: string;
  unit?: string;
  sum?: { dataPoints?: OtlpNumberPoint[]; isMonotonic?: boolean };
}
interface OtlpRequest {
  resourceMetrics?: {
    scopeMetrics?: { scope?: { name?: string }; metrics?: OtlpMetric[] }[];
  }[];
}
interface ProtobufType {
  decode(bytes: Uint8Array): object;
  toObject(message: object, options: { longs: typeof String }): OtlpRequest;
}
const ExportMetricsServiceRequest = (otlpRoot as unknown as {
  opentelemetry: {
    proto: {
      collector: {
        metrics: { v1: { ExportMetricsServiceRequest: ProtobufType } };
      };
    };
  };
}).opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;

function attributeValue(value: OtlpAnyValue): unknown {
  // Deno sends every number as a double; an SDK would send ints as intValue.
  return value.stringValue ?? value.boolValue ?? value.doubleValue ??
    (value.intValue === undefined ? undefined : Number(value.intValue));
}

/** The ws4d points of one OTLP request, and each ws4d metric's shape. */
function otlpPoints(request: OtlpRequest): {
  points: Point[];
  shapes: { name: string; unit: string; monotonic: boolean }[];
} {
  const points: Point[] = [];
  const shapes = [];
  for (const resource of request.resourceMetrics ?? []) {
    for (const scope of resource.scopeMetrics ?? []) {
      if (scope.scope?.name !== "@ws4d/websocket") continue;
      for (const metric of scope.metrics ?? []) {
        shapes.push({
          name: metric.name,
          unit: metric.unit ?? "",
          monotonic: metric.sum?.isMonotonic ?? false,
        });
        for (const point of metric.sum?.dataPoints ?? []) {
          points.push({
            name: metric.name,
            attributes: Object.fromEntries(
              (point.attributes ?? []).map((a) => [
                a.key,
                attributeValue(a.value),
              ]),
            ),
            value: point.asDouble ?? Number(point.asInt),
          });
        }
      }
    }
  }
  return { points: sorted(points), shapes };
}

Deno.test("observeServer() under OTEL_DENO=true: Deno exports the ws4d metrics to an OTLP endpoint", async () => {
  const requests: OtlpRequest[] = [];
  const contentTypes = new Set<string>();
  let arrived = Promise.withResolvers<void>();
  await using collector = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const body = new Uint8Array(await request.arrayBuffer());
      if (new URL(request.url).pathname === "/v1/metrics") {
        contentTypes.add(request.headers.get("content-type") ?? "");
        requests.push(
          ExportMetricsServiceRequest.toObject(
            ExportMetricsServiceRequest.decode(body),
            { longs: String },
          ),
        );
        arrived.resolve();
      }
      // An empty ExportMetricsServiceResponse: everything accepted.
      return new Response(new Uint8Array(), {
        headers: { "content-type": "application/x-protobuf" },
      });
    },
  );

  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-net=127.0.0.1",
      new URL("./_otel_server.ts", import.meta.url).pathname,
    ],
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.addr.port}`,
      OTEL_METRIC_EXPORT_INTERVAL: "200",
      OTEL_SERVICE_NAME: "ws4d-otel-test",
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  let errors = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (errors += chunk) }),
  );
  try {
    // The first line the process prints: what it observes.
    const line = Promise.withResolvers<string>();
    let text = "";
    const stdoutDone = child.stdout.pipeThrough(new TextDecoderStream())
      .pipeTo(
        new WritableStream({
          write(chunk) {
            text += chunk;
            if (text.includes("\n")) line.resolve(text.split("\n")[0] ?? "");
          },
          close() {
            line.reject(new Error(`No line from the process: ${text}`));
          },
        }),
      );
    const { path, stats } = JSON.parse(
      await deadline(line.promise, 20_000),
    );
    const expected = expectedPoints(stats, {
      "http.route": path,
      "service.instance.id": "e2e",
    });

    // Deno exports every 200 ms, its own metrics too: wait for a request
    // that carries ours, and compare every point of it.
    let found: ReturnType<typeof otlpPoints> | undefined;
    const end = Date.now() + 20_000;
    while (found === undefined) {
      await deadline(arrived.promise, end - Date.now());
      arrived = Promise.withResolvers<void>();
      found = requests.map(otlpPoints).find((r) => r.points.length > 0);
    }
    assertEquals(found.points, expected);
    assertEquals(
      found.shapes.sort((a, b) => a.name < b.name ? -1 : 1),
      [...INSTRUMENTS].sort((a, b) => a.name < b.name ? -1 : 1),
    );
    assertEquals([...contentTypes], ["application/x-protobuf"]);

    await stdin.close();
    const { code } = await deadline(child.status, 10_000);
    assertEquals(code, 0, errors);
    await stdoutDone;
  } finally {
    try {
      child.kill();
    } catch {
      // It has exited already.
    }
    await stdin.close().catch(() => {});
    await child.status;
    await stderrDone;
  }
});

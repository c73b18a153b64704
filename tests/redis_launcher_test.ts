/**
 * `testkit/redis_launcher.ts`: redis-server on a port it binds itself, with
 * no race on a port found free and closed. A port in use is reported when
 * it was given, and replaced when it was chosen; a restart keeps the port.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
} from "@std/assert";
import { RedisLauncher, unlikelyTakenPort } from "../testkit/redis_launcher.ts";
import { hasRedisServer, REDIS_SERVER } from "./_redis.ts";

const ignore = !hasRedisServer();

/** A listener on a port-0 port of 127.0.0.1, held until disposed. */
function holdPort(): Deno.TcpListener & Disposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return Object.assign(listener, {
    [Symbol.dispose]: () => listener.close(),
  });
}

Deno.test({
  name:
    "RedisLauncher: a given port in use fails start(), with nothing left running",
  ignore,
  async fn() {
    using held = holdPort();
    await using redis = new RedisLauncher({
      port: held.addr.port,
      program: REDIS_SERVER,
    });
    await assertRejects(() => redis.start(), Error, "is in use");
    assertEquals(redis.port, held.addr.port);
  },
});

Deno.test({
  name:
    "RedisLauncher: a chosen port in use is replaced, and a restart keeps the new one",
  ignore,
  async fn() {
    using held = holdPort();
    // The first choice is taken; then the default choice.
    const choices = [held.addr.port];
    const choosePort = () => choices.shift() ?? unlikelyTakenPort();
    await using redis = new RedisLauncher({
      choosePort,
      program: REDIS_SERVER,
    });
    await redis.start();
    assertNotEquals(redis.port, held.addr.port);
    const port = redis.port;
    await redis.stop();
    await redis.start();
    assertEquals(redis.port, port);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const reply = new Uint8Array(16);
    const n = await conn.read(reply);
    conn.close();
    assertEquals(
      new TextDecoder().decode(reply.subarray(0, n ?? 0)),
      "+PONG\r\n",
    );
  },
});

Deno.test({
  name:
    "unlikelyTakenPort() is below the kernel's ephemeral range, where port 0 never lands",
  ignore: Deno.build.os !== "linux",
  fn() {
    const [low] = Deno.readTextFileSync(
      "/proc/sys/net/ipv4/ip_local_port_range",
    )
      .trim().split(/\s+/).map(Number);
    for (let i = 0; i < 100; i++) {
      const port = unlikelyTakenPort();
      assert(port >= 1024 && port < (low ?? 0), `${port} (range from ${low})`);
    }
  },
});

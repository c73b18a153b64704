import { assert, assertEquals } from "@std/assert";
import { deadline } from "@std/async";
import { ErrorCode } from "../mod.ts";
import { listen } from "./_helpers.ts";
import { tools } from "../testkit/provision.ts";

/** openssl as the provisioning found it (`deno task test`), else none. */
const OPENSSL = tools().openssl?.path;

async function openssl(args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command(OPENSSL ?? "openssl", {
    args,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert(success, new TextDecoder().decode(stderr));
}

/**
 * A test CA and a certificate for 127.0.0.1 signed by it, made by openssl in
 * `dir` (rustls refuses a self-signed CA certificate as the server's own).
 */
async function selfSigned(dir: string) {
  const file = (name: string) => `${dir}/${name}`;
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=ws4d test CA",
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.pem"),
  ]);
  await openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    file("key.pem"),
    "-out",
    file("leaf.csr"),
  ]);
  await Deno.writeTextFile(
    file("ext.cnf"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    file("leaf.csr"),
    "-CA",
    file("ca.pem"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    file("ext.cnf"),
    "-out",
    file("cert.pem"),
  ]);
  return {
    key: await Deno.readTextFile(file("key.pem")),
    cert: await Deno.readTextFile(file("cert.pem")),
    certFile: file("ca.pem"),
  };
}

Deno.test({
  name: "WebSocket over wss:// to a TLS WebSocketServer",
  // The provisioning said in one line what to install; .ci/run fails on it.
  ignore: OPENSSL === undefined,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { key, cert, certFile } = await selfSigned(dir);
    await using server = listen({
      onConnection: () => ({ onMessage: (ws, event) => ws.send(event.data) }),
    }, { cert, key, dataType: "object" });
    const run = async (trust: string[]) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          ...trust,
          new URL("./_tls_client.ts", import.meta.url).pathname,
          `${server.url}/`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const { stdout, stderr, success } = await deadline(child, 30_000);
      assert(success, new TextDecoder().decode(stderr));
      return JSON.parse(new TextDecoder().decode(stdout));
    };
    assertEquals(await run([`--cert=${certFile}`]), [
      "wss://",
      { over: "tls" },
      4000,
    ]);
    // Not trusted: a TLS failure is a connection that cannot be made.
    assertEquals(await run([]), [
      "wss://",
      [ErrorCode.ConnectionFailed],
      1006,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

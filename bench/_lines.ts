/**
 * Line-based talk between the orchestrator and its child processes: each
 * side reads the other's lines from a byte stream and writes whole lines.
 *
 * @module
 */

/** Yields the lines of `stream`, without their `\n`, until it ends. */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let end = buffered.indexOf("\n");
    while (end >= 0) {
      yield buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      end = buffered.indexOf("\n");
    }
  }
  if (buffered !== "") yield buffered;
}

const encoder = new TextEncoder();

/** Writes `line` and a `\n` to this process's stdout, all of it. */
export async function printLine(line: string): Promise<void> {
  const bytes = encoder.encode(`${line}\n`);
  let written = 0;
  while (written < bytes.length) {
    written += await Deno.stdout.write(bytes.subarray(written));
  }
}

/**
 * Calls `onLine` for each line of this process's stdin, and exits the
 * process when stdin ends: a child never outlives the orchestrator's pipe.
 */
export function onStdinLines(onLine: (line: string) => void): void {
  (async () => {
    try {
      for await (const line of readLines(Deno.stdin.readable)) onLine(line);
    } finally {
      Deno.exit(0);
    }
  })();
}

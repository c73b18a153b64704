// This module is browser compatible.
/**
 * The `dataType` codec that the server's connections and the client share:
 * `decode` turns a received frame into `onMessage`'s `data`, `encode` turns a
 * value given to `send` into what the socket sends (SPEC.md, "Data types").
 *
 * @module
 */
import { ErrorCode, toError, Ws4dError } from "./_errors.ts";
import { describe } from "./_checks.ts";
import type { DataType } from "./_types.ts";

/** What the socket hands over: `binaryType` is always `"arraybuffer"`. */
export type Frame = string | ArrayBuffer;

/** What `encode` gives to `socket.send`. */
export type Encoded = string | ArrayBuffer | ArrayBufferView | Blob;

const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();

/**
 * A received frame's size as the counters and limits read it: a binary
 * frame's bytes, a text frame's length in UTF-16 units (its bytes when
 * ASCII), read in O(1).
 */
export function frameSize(frame: Frame): number {
  return typeof frame === "string" ? frame.length : frame.byteLength;
}

/**
 * The size of a message sent, counted as {@linkcode frameSize} counts one
 * received: a string's length in UTF-16 code units, the byte length of
 * bytes or of a `Blob` (for resuming, the payload without its prefix).
 *
 * @example
 * ```ts
 * import { sizeOf } from "./_codec.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(sizeOf("héllo"), 5);
 * assertEquals(sizeOf(new Uint8Array(3)), 3);
 * ```
 */
export function sizeOf(payload: Encoded): number {
  if (typeof payload === "string") return payload.length;
  return payload instanceof Blob ? payload.size : payload.byteLength;
}

function utf8Length(text: string): number {
  return UTF8_ENCODER.encode(text).byteLength;
}

function tooLarge(size: number, max: number): Ws4dError {
  return new Ws4dError(
    ErrorCode.MessageTooLarge,
    `Cannot receive message: it is ${size} bytes, maxMessageSize is ${max}`,
  );
}

function decodeText(frame: ArrayBuffer): string | Ws4dError {
  try {
    return UTF8_DECODER.decode(frame);
  } catch (cause) {
    return new Ws4dError(
      ErrorCode.InvalidUTF8,
      "Cannot decode message: it is not valid UTF-8",
      cause,
    );
  }
}

function parseJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    return new Ws4dError(
      ErrorCode.InvalidJSON,
      `Cannot parse message as JSON: ${toError(cause).message}`,
      cause,
    );
  }
}

/**
 * Turns a received frame into the `data` of `onMessage`, or into the error
 * that stops the connection. The error is returned, not thrown: a text
 * message under `"text"` (the common case) runs no `try` before the one
 * around the callback. No message decodes to a `Ws4dError` (`JSON.parse`
 * makes plain values), so `instanceof` tells the two apart.
 *
 * @returns The data, or a {@linkcode Ws4dError} (`InvalidUTF8`,
 * `InvalidJSON` or `MessageTooLarge`).
 */
export function decode(
  frame: Frame,
  dataType: DataType,
  max: number,
): unknown {
  if (typeof frame === "string") {
    // A string of n UTF-16 units is n to 3n bytes of UTF-8: count only near the limit.
    if (frame.length * 3 > max) {
      const size = utf8Length(frame);
      if (size > max) return tooLarge(size, max);
    }
    if (dataType === "text") return frame;
    if (dataType === "object") return parseJSON(frame);
    return UTF8_ENCODER.encode(frame);
  }
  if (frame.byteLength > max) return tooLarge(frame.byteLength, max);
  if (dataType === "blob") return new Uint8Array(frame);
  const text = decodeText(frame);
  if (typeof text !== "string") return text;
  return dataType === "text" ? text : parseJSON(text);
}

/**
 * Turns a value given to `send` into what the socket sends: a string as a
 * text frame, bytes or a `Blob` as a binary frame, any other JSON value as
 * its `JSON.stringify` text (SPEC.md, "Data types").
 *
 * @throws {TypeError} For `undefined`, a function, a symbol, a bigint, or a
 * value `JSON.stringify` cannot serialise (circular, holding a bigint).
 */
export function encode(message: unknown): Encoded {
  if (typeof message === "string") return message;
  if (typeof message === "object" && message !== null) {
    if (message instanceof ArrayBuffer || ArrayBuffer.isView(message)) {
      return message;
    }
    if (typeof Blob === "function" && message instanceof Blob) return message;
  }
  switch (typeof message) {
    case "undefined":
    case "function":
    case "symbol":
    case "bigint":
      throw new TypeError(
        `Cannot send message: ${
          describe(message)
        } cannot be sent, send a string, bytes, a Blob or a JSON value`,
      );
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(message);
  } catch (cause) {
    throw new TypeError(
      `Cannot send message: it cannot be serialised as JSON (${
        toError(cause).message
      })`,
      { cause },
    );
  }
  if (text === undefined) {
    throw new TypeError(
      "Cannot send message: JSON.stringify gave nothing for it",
    );
  }
  return text;
}

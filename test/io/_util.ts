// Shared helpers for the io tests: temp folders that are removed when the test ends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { FileFormatError } from '../../src/errors.js';

export function tmpDir(t: TestContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-io-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Asserts `fn` throws a FileFormatError (or the given subclass) whose message matches `re` and names `file`. */
export function throwsFormat(fn: () => unknown, re: RegExp, file?: string, cls: new (...a: never[]) => FileFormatError = FileFormatError): FileFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof cls, `expected ${cls.name}, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  const err = caught as FileFormatError;
  assert.match(err.message, re);
  if (file !== undefined) assert.ok(err.message.includes(file), `message should name ${file}: ${err.message}`);
  return err;
}

/** Byte-equality of the data of two typed arrays. */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

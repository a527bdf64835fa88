/**
 * Atomic file and directory writes: everything goes to a temporary sibling first and is renamed
 * into place only after a successful fsync, so readers never see a partial checkpoint and a crash
 * or error leaves the previous file (if any) intact.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { RadgradError } from '../errors.js';

function tempSibling(target: string, tag: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Runs `write(fd)` on a temp file beside `target`, then fsyncs and renames it over `target`.
 * On any error the temp file is removed and the error rethrown.
 */
export function writeFileAtomic(target: string, write: (fd: number) => void): void {
  const tmp = tempSibling(target, 'tmp');
  const fd = fs.openSync(tmp, 'wx', 0o644);
  let ok = false;
  try {
    write(fd);
    fs.fsyncSync(fd);
    ok = true;
  } finally {
    fs.closeSync(fd);
    if (!ok) fs.rmSync(tmp, { force: true });
  }
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Fills a temp directory beside `target` with `fill(tmpDir)`, then moves it into place. An existing
 * `target` is renamed aside first and removed after the swap (POSIX cannot rename onto a non-empty
 * directory), so the window where `target` is absent is two renames long and never partial.
 */
export function writeDirAtomic(target: string, fill: (dir: string) => void): void {
  const tmp = tempSibling(target, 'tmp');
  fs.mkdirSync(tmp, { recursive: false });
  try {
    fill(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  swapDirInto(tmp, target);
}

/**
 * Moves a filled temp directory onto `target`: an existing target is renamed aside first (POSIX
 * cannot rename onto a non-empty directory) and removed after the swap. On failure the old target
 * is put back and the temp directory removed.
 */
export function swapDirInto(tmp: string, target: string): void {
  let old: string | undefined;
  try {
    if (fs.existsSync(target)) {
      old = tempSibling(target, 'old');
      fs.renameSync(target, old);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    if (old && !fs.existsSync(target)) fs.renameSync(old, target);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (old) fs.rmSync(old, { recursive: true, force: true });
}

/** Writes text atomically (parent folders created); failures become a RadgradError with a hint. */
export function writeTextAtomic(file: string, text: string): void {
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    writeFileAtomic(file, (fd) => {
      fs.writeSync(fd, text);
    });
  } catch (cause) {
    throw new RadgradError(`cannot write ${file}: ${(cause as Error).message}`, {
      cause,
      hint: 'check that the output folder is writable and has free space',
    });
  }
}

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
 * Fills a temp directory beside `target` with `fill(tmpDir)`, then moves it into place with
 * swapDirInto: the files written appear together (never a partial set), an existing folder's other
 * entries are kept, and an existing file at `target` is refused before `fill` runs.
 */
export function writeDirAtomic(target: string, fill: (dir: string) => void): void {
  refuseFile(target);
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

/** Throws when `target` exists and is not a folder (a file is never replaced by a folder). */
function refuseFile(target: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    return; // absent (or a dangling link, which the rename replaces)
  }
  if (!st.isDirectory()) {
    throw new RadgradError(`cannot write the folder ${target}: a file of that name exists`, { hint: 'choose another output folder, or move the file away first' });
  }
}

/**
 * Moves a filled temp directory onto `target`. The new entries appear together: an existing target
 * folder is renamed aside (POSIX cannot rename onto a non-empty directory) and the temp directory
 * renamed into its place. The old folder's entries that the new one does not hold (a user's notes,
 * data, a tokenizer beside the weights) are then moved back in, as Hugging Face's save_pretrained
 * leaves unrelated files alone; only the entries the new folder replaces are deleted. An existing
 * file at `target` is refused. On a failed swap the old target is put back and the temp directory
 * removed; if moving kept entries back fails, the old folder stays on disk and the error names it.
 */
export function swapDirInto(tmp: string, target: string): void {
  let old: string | undefined;
  let carry = false;
  try {
    refuseFile(target);
    if (fs.existsSync(target)) {
      carry = !fs.lstatSync(target).isSymbolicLink(); // a link is replaced; the folder it names is left alone
      old = tempSibling(target, 'old');
      fs.renameSync(target, old);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    if (old && !fs.existsSync(target)) fs.renameSync(old, target);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (!old) return;
  if (!carry) {
    fs.unlinkSync(old);
    return;
  }
  const written = new Set(fs.readdirSync(target));
  try {
    for (const name of fs.readdirSync(old)) if (!written.has(name)) fs.renameSync(path.join(old, name), path.join(target, name));
  } catch (cause) {
    throw new RadgradError(`wrote ${target}, but could not move its earlier files back from ${old}: ${(cause as Error).message}`, {
      cause,
      hint: `nothing was deleted: move the remaining files from ${old} into ${target} by hand`,
    });
  }
  fs.rmSync(old, { recursive: true, force: true });
}

/** Writes text atomically (parent folders created); failures become a RadgradError with a hint. */
export function writeTextAtomic(file: string, text: string): void {
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    writeFileAtomic(file, (fd) => {
      fs.writeSync(fd, text);
    });
  } catch (cause) {
    throw new RadgradError(`cannot write ${file}: ${(cause as Error).message}`, { cause, hint: writeHint(cause, file) });
  }
}

/** A hint that fits why a write failed: the generic one only when the cause is not one of these. */
function writeHint(cause: unknown, file: string): string {
  switch ((cause as NodeJS.ErrnoException).code) {
    case 'EISDIR': return `${file} is a folder: name a file inside it, or another path`;
    case 'ENOTDIR': case 'EEXIST': return `a part of ${path.dirname(file)} is a file, not a folder: choose another output path`;
    case 'EACCES': case 'EPERM': case 'EROFS': return `no permission to write in ${path.dirname(path.resolve(file))}: choose a folder you can write to`;
    case 'ENOSPC': case 'EDQUOT': return 'the disk is full: free some space or write elsewhere';
    default: return 'check that the output folder is writable and has free space';
  }
}

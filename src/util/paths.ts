import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The package root (the folder holding radgrad's package.json), from source or from dist/. */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'shaders'))) {
      cachedRoot = dir;
      return dir;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('radgrad: cannot locate the package root (package.json + shaders/)');
    dir = up;
  }
}

/** The read-only reference data folder: $RADGRAD_SHARED or ../shared beside the package root. */
export function sharedDir(): string {
  return process.env.RADGRAD_SHARED ?? path.resolve(packageRoot(), '..', 'shared');
}

/** A path inside shared/, or undefined when it is absent (tests skip with a message then). */
export function sharedPath(...parts: string[]): string | undefined {
  const p = path.join(sharedDir(), ...parts);
  return existsSync(p) ? p : undefined;
}

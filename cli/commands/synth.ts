/**
 * `radgrad synth mimic`: a synthetic MIMIC-CXR tree (labels CSV + report files) for tests and demos,
 * since the real data is credentialed.
 */
import type { Command } from 'commander';
import { RadgradError } from '../../src/errors.js';
import { synthMimic } from '../../src/data/synth.js';

function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new RadgradError(`${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`, {
        hint: 'e.g. radgrad synth mimic --out /tmp/synth --studies 2000 --seed 7',
      });
    }
    return n;
  };
}

export function register(program: Command): void {
  const synth = program
    .command('synth')
    .description('generate synthetic datasets in the layout of real ones')
    .addHelpText('after', '\nExample:\n  $ radgrad synth mimic --out data/synth --studies 2000 --seed 1');
  synth
    .command('mimic')
    .description('write a synthetic MIMIC-CXR tree: mimic-cxr-2.0.0-chexpert.csv.gz + files/pXX/pSUBJECT/sSTUDY.txt')
    .requiredOption('--out <dir>', 'output folder (must be new or empty unless --force)')
    .option('--studies <n>', 'number of studies', intArg('--studies', 1, 2_000_000), 1000)
    .option('--seed <s>', 'PRNG seed (same seed, same tree)', intArg('--seed', 0, 2 ** 32 - 1), 0)
    .option('--plain', 'write mimic-cxr-2.0.0-chexpert.csv instead of .csv.gz')
    .option('--no-faults', 'do not inject malformed rows or missing/unreadable/section-less reports')
    .option('--force', 'replace --out if it exists and is not empty (its whole content is removed)')
    .option('--json', 'print the manifest as JSON')
    .addHelpText(
      'after',
      `
Reports follow their labels (hedged for uncertain, negated for 0.0) with MIMIC-like layout quirks. By
default a few faults are injected so \`prep mimic\` has something to count; the exact counts it must
report are in <out>/synth-manifest.json ("expected").

Example:
  $ radgrad synth mimic --out data/synth --studies 2000 --seed 1
  $ radgrad prep mimic --chexpert data/synth/mimic-cxr-2.0.0-chexpert.csv.gz --reports data/synth --out data/synth.jsonl`,
    )
    .action((o: { out: string; studies: number; seed: number; plain?: boolean; faults: boolean; force?: boolean; json?: boolean }) => {
      const m = synthMimic({ out: o.out, studies: o.studies, seed: o.seed, gzip: !o.plain, faults: o.faults, force: !!o.force });
      if (o.json) {
        console.log(JSON.stringify(m, null, 2));
        return;
      }
      const f = m.faults;
      const e = m.expected;
      console.log(
        [
          `synth mimic: ${m.studies} studies of ${m.subjects} subjects (seed ${m.seed}) -> ${o.out}`,
          `  ${m.csv}, files/pXX/pSUBJECT/sSTUDY.txt, synth-manifest.json`,
          `  faults: ${f.malformedRows.length} malformed rows, ${f.duplicateRows.length} duplicate rows, ${f.missingReports.length} missing reports, ` +
            `${f.unreadableReports.length} unreadable, ${f.noSectionReports.length} without sections`,
          `  prep mimic (defaults) should write ${e.written} of ${e.studiesRead} studies (${e.filtered} filtered by labels)`,
        ].join('\n'),
      );
    });
}

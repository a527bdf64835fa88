/**
 * `radgrad prep mimic` and `radgrad prep iu`: build prompt/completion JSONL from report datasets.
 */
import type { Command } from 'commander';
import { prepIu, type PrepIuSummary } from '../../src/data/iu.js';
import type { KeepPolicy, LabelCounts } from '../../src/data/labels.js';
import { prepMimic, type PrepMimicSummary } from '../../src/data/mimic.js';

const SHOWN_WARNINGS = 20;

interface KeepFlags {
  keepNoFinding?: boolean;
  keepUncertain?: boolean;
  keepAll?: boolean;
}

function keepPolicy(o: KeepFlags): KeepPolicy {
  return { noFinding: !!o.keepNoFinding, uncertain: !!o.keepUncertain, all: !!o.keepAll };
}

function addKeepOptions(cmd: Command): Command {
  return cmd
    .option('--keep-no-finding', 'also keep normal studies (only No Finding and/or Support Devices positive)')
    .option('--keep-uncertain', 'count "uncertain" pathology labels as positive when filtering')
    .option('--keep-all', 'keep every study that has at least one label')
    .option('--json', 'print the summary as JSON');
}

function formatLabels(c: LabelCounts): string[] {
  return Object.entries(c).map(([k, v]) => `    ${k}: ${v.positive}${v.uncertain ? ` (+${v.uncertain} uncertain)` : ''}${v.negative ? ` (${v.negative} negative)` : ''}`);
}

function formatWarnings(w: string[]): string[] {
  if (!w.length) return [];
  const lines = [`  warnings (${w.length}):`, ...w.slice(0, SHOWN_WARNINGS).map((x) => `    ${x}`)];
  if (w.length > SHOWN_WARNINGS) lines.push(`    ... ${w.length - SHOWN_WARNINGS} more (use --json for all)`);
  return lines;
}

export function formatMimicSummary(s: PrepMimicSummary): string {
  return [
    `prep mimic: ${s.csvRows} CSV rows (${s.malformedRows} malformed, ${s.duplicateStudies} duplicate) -> ${s.studiesRead} studies read`,
    `  filtered by labels:        ${s.filtered}`,
    `  reports missing:           ${s.reportsMissing}`,
    `  reports unreadable:        ${s.reportsUnreadable}`,
    `  no FINDINGS or IMPRESSION: ${s.noSections} (skipped)`,
    `  written:                   ${s.written}${s.out ? ` -> ${s.out}` : ''}`,
    `    sections missing: findings ${s.findingsMissing}, impression ${s.impressionMissing}; FINDINGS AND IMPRESSION used ${s.combinedSections}`,
    '  labels written:',
    ...formatLabels(s.labelCounts),
    ...formatWarnings(s.warnings),
  ].join('\n');
}

export function formatIuSummary(s: PrepIuSummary): string {
  const c = s.coverage;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return [
    `prep iu: ${s.csvRows} CSV rows (${s.malformedRows} malformed, ${s.duplicateUids} duplicate) -> ${s.studiesRead} reports read`,
    `  filtered by labels:        ${s.filtered}`,
    `  no findings or impression: ${s.noSections} (skipped)`,
    `  written:                   ${s.written}${s.out ? ` -> ${s.out}` : ''}`,
    `    sections missing: findings ${s.findingsMissing}, impression ${s.impressionMissing}`,
    `  mapping coverage: ${c.termsMapped}/${c.termOccurrences} Problems terms (${pct(c.termCoverage)}), ` +
      `${c.reportsWithLabels}/${s.studiesRead} reports with a CheXpert label (${pct(c.reportCoverage)}; No Finding derived for ${c.noFindingDerived}), ` +
      `${c.distinctMapped}/${c.distinctTerms} distinct terms`,
    `  most frequent unmapped terms: ${c.topUnmapped.map(([t, n]) => `${t} (${n})`).join(', ')}`,
    '  labels written:',
    ...formatLabels(s.labelCounts),
    ...formatWarnings(s.warnings),
  ].join('\n');
}

export function register(program: Command): void {
  const prep = program
    .command('prep')
    .description('prepare prompt/completion JSONL (CheXpert labels -> Findings + Impression) from report datasets')
    .addHelpText(
      'after',
      `
Example:
  $ radgrad prep iu --csv ../shared/data/iu-xray/indiana_reports.csv --out data/iu.jsonl
  $ radgrad prep mimic --chexpert mimic-cxr-2.0.0-chexpert.csv.gz --reports mimic-cxr-reports --out data/mimic.jsonl`,
    );

  addKeepOptions(
    prep
      .command('mimic')
      .description('MIMIC-CXR: labels from mimic-cxr-2.0.0-chexpert.csv[.gz], text from files/pXX/pSUBJECT/sSTUDY.txt')
      .requiredOption('--chexpert <file>', 'mimic-cxr-2.0.0-chexpert.csv or .csv.gz')
      .requiredOption('--reports <dir>', 'folder holding files/pXX/pSUBJECT/sSTUDY.txt (or that files/ folder)')
      .requiredOption('--out <file>', 'output JSONL (written atomically; with no record to write, an error and no file)')
      .option('--include-negative', 'emit 0.0 labels as "0" (default: skipped like blanks)'),
  )
    .addHelpText(
      'after',
      `
Labels: 1.0 -> "1", -1.0 -> "uncertain", 0.0 and blank skipped (0.0 -> "0" with --include-negative).
By default a study is kept when it has a positive pathology label. No Finding and Support Devices are
not pathologies (CheXpert's No Finding rule ignores devices): a study with only a line is normal.

Example:
  $ radgrad prep mimic --chexpert mimic-cxr/mimic-cxr-2.0.0-chexpert.csv.gz \\
      --reports mimic-cxr-reports --out data/mimic.jsonl
  $ radgrad synth mimic --out /tmp/synth --studies 500 && \\
    radgrad prep mimic --chexpert /tmp/synth/mimic-cxr-2.0.0-chexpert.csv.gz --reports /tmp/synth --out /tmp/synth.jsonl --json`,
    )
    .action(async (o: KeepFlags & { chexpert: string; reports: string; out: string; includeNegative?: boolean; json?: boolean }) => {
      const { summary } = await prepMimic({
        chexpertCsv: o.chexpert,
        reportsDir: o.reports,
        out: o.out,
        includeNegative: !!o.includeNegative,
        keep: keepPolicy(o),
      });
      console.log(o.json ? JSON.stringify(summary, null, 2) : formatMimicSummary(summary));
    });

  addKeepOptions(
    prep
      .command('iu')
      .description('IU X-ray (Open-i) indiana_reports.csv: labels mapped from the Problems column onto CheXpert names')
      .requiredOption('--csv <file>', 'indiana_reports.csv')
      .requiredOption('--out <file>', 'output JSONL (written atomically; with no record to write, an error and no file)'),
  )
    .addHelpText(
      'after',
      `
Problems terms (with their MeSH qualifiers) map onto CheXpert labels, e.g. Cardiomegaly -> Cardiomegaly,
Pulmonary Atelectasis -> Atelectasis, Opacity/Infiltrate/Airspace Disease -> Lung Opacity, Nodule/Mass ->
Lung Lesion, Catheters/Tubes/Devices -> Support Devices (table: src/data/iu_mapping.ts). No Finding is 1
when no label other than Support Devices is 1 or uncertain and no CheXpert "other finding" is coded
(CheXpert's rule: calcified granuloma, degenerative spine, emphysema, scoliosis... set no label but rule
out No Finding, so a report coded only with those gets no label and is dropped, as in MIMIC-CXR's
chexpert.csv); "No Indexing" reports get no label either. The summary reports coverage. Many IU reports
are normal: add --keep-no-finding to keep them.

Example:
  $ radgrad prep iu --csv ../shared/data/iu-xray/indiana_reports.csv --out data/iu.jsonl --keep-no-finding`,
    )
    .action(async (o: KeepFlags & { csv: string; out: string; json?: boolean }) => {
      const { summary } = await prepIu({ csv: o.csv, out: o.out, keep: keepPolicy(o) });
      console.log(o.json ? JSON.stringify(summary, null, 2) : formatIuSummary(summary));
    });
}

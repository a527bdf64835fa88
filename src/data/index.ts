/** Data preparation, synthetic MIMIC-CXR data, dataset and collator. */
export { CsvParser, formatCsvRow, openTextStream, parseCsv, readCsvFile } from './csv.js';
export type { CsvIssue, CsvIssueKind, CsvOptions, CsvRecord } from './csv.js';
export { Rng, hashSeed, mix32, permutation } from './rng.js';
export {
  CHEXPERT_LABELS,
  NON_PATHOLOGY_LABELS,
  buildCompletion,
  buildPrompt,
  canonicalLabels,
  isChexpertLabel,
  orderedLabels,
  shouldKeep,
  sortCounts,
  tallyLabels,
} from './labels.js';
export type { ChexpertLabel, KeepPolicy, LabelCounts, LabelValue } from './labels.js';
export { extractSections, normalizeWhitespace } from './sections.js';
export type { ReportSections, SectionKind } from './sections.js';
export { checkOutputFile, formatJsonl, parseJsonl, readJsonl, writeJsonlAtomic, writeTextAtomic } from './jsonl.js';
export type { ReportRecord } from './jsonl.js';
export { mimicReportPath, prepMimic, resolveReportsRoot } from './mimic.js';
export type { PrepMimicOptions, PrepMimicSummary } from './mimic.js';
export { IU_MAPPING, mapIuMesh, mapIuProblems, prepIu } from './iu.js';
export { OTHER_FINDING_STEMS, OTHER_FINDING_VARIANTS, findOtherFinding } from './other_findings.js';
export type { OtherFindingStem } from './other_findings.js';
export type { IuMapping, IuRule } from './iu_mapping.js';
export type { IuCoverage, PrepIuOptions, PrepIuSummary } from './iu.js';
export { synthMimic } from './synth.js';
export type { ExpectedPrepCounts, SynthManifest, SynthMimicOptions } from './synth.js';
export { SftDataset, splitTrainEval, subjectOf } from './dataset.js';
export type { DatasetOptions, DatasetStats, Example, PromptCompletion, SplitOptions, TextEncoder } from './dataset.js';
export { DataLoader, IGNORE_INDEX, collate } from './collator.js';
export type { Batch, CollateOptions, LoaderOptions } from './collator.js';

/**
 * CheXpert label vocabulary and the prompt/completion text format shared by every data source, so
 * a model trained on MIMIC-CXR, IU X-ray or synthetic data sees one format.
 */

/** The 14 CheXpert observations in the column order of mimic-cxr-2.0.0-chexpert.csv. */
export const CHEXPERT_LABELS = [
  'Atelectasis',
  'Cardiomegaly',
  'Consolidation',
  'Edema',
  'Enlarged Cardiomediastinum',
  'Fracture',
  'Lung Lesion',
  'Lung Opacity',
  'No Finding',
  'Pleural Effusion',
  'Pleural Other',
  'Pneumonia',
  'Pneumothorax',
  'Support Devices',
] as const;

export type ChexpertLabel = (typeof CHEXPERT_LABELS)[number];

/** "1" positive, "uncertain" (CheXpert -1.0), "0" negative (mentioned as absent). */
export type LabelValue = '1' | 'uncertain' | '0';

/**
 * Observations that are not pathologies: a study whose only positives are among these is "normal".
 * Support Devices is one, as CheXpert's No Finding rule ignores it (a line or a tube alone is 1 for
 * both No Finding and Support Devices in mimic-cxr-2.0.0-chexpert.csv).
 */
export const NON_PATHOLOGY_LABELS: ReadonlySet<string> = new Set(['No Finding', 'Support Devices']);

const ORDER = new Map<string, number>(CHEXPERT_LABELS.map((n, i) => [n, i]));

export function isChexpertLabel(name: string): name is ChexpertLabel {
  return ORDER.has(name);
}

/** Orders a label map canonically (CSV column order); unknown names go last, alphabetically. */
export function orderedLabels(labels: Readonly<Record<string, LabelValue>>): Array<[string, LabelValue]> {
  return Object.entries(labels).sort(([a], [b]) => {
    const ia = ORDER.get(a) ?? 1e9;
    const ib = ORDER.get(b) ?? 1e9;
    return ia !== ib ? ia - ib : a < b ? -1 : a > b ? 1 : 0;
  });
}

/** The label map rebuilt in canonical order (JSON key order then matches the prompt). */
export function canonicalLabels(labels: Readonly<Record<string, LabelValue>>): Record<string, LabelValue> {
  return Object.fromEntries(orderedLabels(labels));
}

/** `"Atelectasis: 1; Pneumonia: uncertain. \nFindings:"` — the exact prompt the model is conditioned on. */
export function buildPrompt(labels: Readonly<Record<string, LabelValue>>): string {
  const parts = orderedLabels(labels).map(([k, v]) => `${k}: ${v}`);
  return `${parts.join('; ')}. \nFindings:`;
}

/**
 * `" <findings> \nImpression: <impression>"`. A missing section leaves its slot empty without
 * doubling spaces, so the shape is stable for the tokenizer either way.
 */
export function buildCompletion(findings: string, impression: string): string {
  return `${findings ? ` ${findings}` : ''} \nImpression:${impression ? ` ${impression}` : ''}`;
}

/** Which studies to keep, from their labels. */
export interface KeepPolicy {
  /**
   * Also keep normal studies: No Finding 1, or only No Finding and/or Support Devices positive with
   * no pathology uncertain (under CheXpert an uncertain finding leaves No Finding blank).
   */
  noFinding?: boolean;
  /** Count "uncertain" pathology labels as positive for the keep decision. */
  uncertain?: boolean;
  /** Keep every study with at least one label, whatever its values. */
  all?: boolean;
}

export function shouldKeep(labels: Readonly<Record<string, LabelValue>>, policy: KeepPolicy = {}): boolean {
  const entries = Object.entries(labels);
  if (!entries.length) return false;
  if (policy.all) return true;
  const pathology = entries.filter(([k]) => !NON_PATHOLOGY_LABELS.has(k));
  if (pathology.some(([, v]) => v === '1' || (policy.uncertain === true && v === 'uncertain'))) return true;
  if (!policy.noFinding) return false;
  if (labels['No Finding'] === '1') return true;
  // A device alone is normal; a device next to an uncertain finding is not.
  return entries.some(([k, v]) => NON_PATHOLOGY_LABELS.has(k) && v === '1') && !pathology.some(([, v]) => v === 'uncertain');
}

/** Per-label tallies for summaries. */
export type LabelCounts = Record<string, { positive: number; uncertain: number; negative: number }>;

export function tallyLabels(counts: LabelCounts, labels: Readonly<Record<string, LabelValue>>): void {
  for (const [k, v] of Object.entries(labels)) {
    const c = (counts[k] ??= { positive: 0, uncertain: 0, negative: 0 });
    if (v === '1') c.positive++;
    else if (v === 'uncertain') c.uncertain++;
    else c.negative++;
  }
}

/** The tallies in canonical label order (stable, readable summaries). */
export function sortCounts(counts: LabelCounts): LabelCounts {
  return Object.fromEntries(
    Object.entries(counts).sort(([a], [b]) => (ORDER.get(a) ?? 1e9) - (ORDER.get(b) ?? 1e9) || (a < b ? -1 : a > b ? 1 : 0)),
  );
}

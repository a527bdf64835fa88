/**
 * The one IU X-ray code → CheXpert label table, used by `prep iu` (src/data/iu.ts) to write prompts
 * and by the labeler validation (src/eval/iu_validation.ts) as ground truth, so both follow one
 * convention.
 *
 * IU's `Problems` column lists MeSH-style terms ("Cardiomegaly;Pulmonary Atelectasis", "normal"); each
 * term lines up with one `MeSH` entry that adds "/"-separated qualifiers ("Opacity/lung/base/left",
 * "Cardiac Shadow/enlarged/mild"). A term maps to CheXpert labels, using the qualifiers where the bare
 * term is ambiguous. Choices follow the CheXpert labeler's phrase lists:
 * - scarring (Cicatrix) in the lung is Lung Opacity ("scar" is a Lung Opacity mention); pleural
 *   scarring is Pleural Other ("pleural scar"), not Lung Opacity;
 * - a round Opacity is a nodular opacity: Lung Lesion *and* Lung Opacity (CheXpert matches
 *   "nodular opacity" and "opaci" both); a round Density is a nodular density: Lung Lesion only;
 * - Mediastinum counts as Enlarged Cardiomediastinum only when coded prominent/enlarged/widened
 *   (every Mediastinum code in indiana_reports.csv is);
 * - interstitial markings, reticular/fibrotic change and peribronchial thickening are Lung Opacity;
 *   vascular congestion and heart failure are Edema; blunted costophrenic angles are an uncertain
 *   Pleural Effusion; a "borderline" qualifier makes any label uncertain.
 * Terms with no CheXpert counterpart (calcified granulomas, degenerative spine, tortuous aorta,
 * hyperinflation, hiatal hernia, volume loss, surgical clips...) map to nothing.
 *
 * No Finding is then derived as CheXpert (and MIMIC-CXR's chexpert.csv) defines it: 1 when no label
 * other than Support Devices is 1 or uncertain. Reports coded "No Indexing" (or with no code at all)
 * were never reviewed by the coders, so they get no label.
 */
import { canonicalLabels, type ChexpertLabel, type LabelValue } from './labels.js';

type Hit = [ChexpertLabel, LabelValue];
/** Qualifiers (lower-case) → labels. */
export type IuRule = (qualifiers: string[]) => Hit[];

/** Anatomic qualifiers that put an "opacity"/"mass" outside the lung parenchyma. */
const NON_LUNG_SITES = new Set([
  'ribs', 'mediastinum', 'adipose tissue', 'heart', 'supracardiac', 'paratracheal', 'breast', 'abdomen', 'spine',
  'clavicle', 'humerus', 'shoulder', 'thoracic vertebrae', 'lumbar vertebrae', 'neck', 'thorax',
]);
const has = (q: string[], ...words: string[]) => q.some((x) => words.includes(x));
const inLung = (q: string[]) => !q.some((x) => NON_LUNG_SITES.has(x)) || has(q, 'lung');
/** "borderline" qualifier → uncertain; otherwise positive. */
const val = (q: string[]): LabelValue => (has(q, 'borderline') ? 'uncertain' : '1');
const to =
  (...labels: ChexpertLabel[]): IuRule =>
  (q) =>
    labels.map((l) => [l, val(q)] as Hit);
const bluntedAngle: IuRule = (q) => (has(q, 'blunted') ? [['Pleural Effusion', 'uncertain']] : []);
const DEVICE = { rule: to('Support Devices'), note: 'Support Devices' };

/** Problems term (lower-case, single spaces) → rule. */
export const IU_MAPPING: ReadonlyMap<string, { rule: IuRule; note: string }> = new Map<string, { rule: IuRule; note: string }>([
  ['normal', { rule: () => [['No Finding', '1']], note: 'No Finding' }],
  ['cardiomegaly', { rule: to('Cardiomegaly'), note: 'Cardiomegaly (borderline → uncertain)' }],
  ['cardiac shadow', { rule: (q) => (has(q, 'enlarged', 'borderline') ? [['Cardiomegaly', val(q)]] : []), note: 'Cardiomegaly when enlarged (borderline → uncertain)' }],
  ['pulmonary atelectasis', { rule: to('Atelectasis'), note: 'Atelectasis' }],
  ['atelectasis', { rule: to('Atelectasis'), note: 'Atelectasis' }],
  ['pleural effusion', { rule: to('Pleural Effusion'), note: 'Pleural Effusion' }],
  ['hemothorax', { rule: to('Pleural Effusion'), note: 'Pleural Effusion (pleural fluid)' }],
  ['hydropneumothorax', { rule: to('Pneumothorax', 'Pleural Effusion'), note: 'Pneumothorax + Pleural Effusion' }],
  ['hemopneumothorax', { rule: to('Pneumothorax', 'Pleural Effusion'), note: 'Pneumothorax + Pleural Effusion' }],
  ['pneumothorax', { rule: to('Pneumothorax'), note: 'Pneumothorax' }],
  ['costophrenic angle', { rule: bluntedAngle, note: 'blunted → Pleural Effusion, uncertain' }],
  ['sulcus', { rule: bluntedAngle, note: 'blunted → Pleural Effusion, uncertain' }],
  ['pleura', { rule: (q) => (has(q, 'blunted') ? [['Pleural Effusion', 'uncertain']] : [['Pleural Other', '1']]), note: 'blunted → Pleural Effusion uncertain, else Pleural Other' }],
  ['thickening', { rule: (q) => (has(q, 'pleura') ? [['Pleural Other', '1']] : has(q, 'bronchi', 'interstitial') ? [['Lung Opacity', '1']] : []), note: 'pleural → Pleural Other; peribronchial/interstitial → Lung Opacity' }],
  ['opacity', { rule: (q) => (!inLung(q) ? [] : has(q, 'round') ? [['Lung Lesion', '1'], ['Lung Opacity', '1']] : [['Lung Opacity', '1']]), note: 'Lung Opacity unless sited outside the lung; round → also Lung Lesion' }],
  ['density', { rule: (q) => (!inLung(q) ? [] : has(q, 'round') ? [['Lung Lesion', '1']] : has(q, 'lung', 'retrocardiac') ? [['Lung Opacity', '1']] : []), note: 'lung → Lung Opacity; round → Lung Lesion' }],
  ['infiltrate', { rule: to('Lung Opacity'), note: 'Lung Opacity' }],
  ['airspace disease', { rule: to('Lung Opacity'), note: 'Lung Opacity' }],
  ['pulmonary fibrosis', { rule: to('Lung Opacity'), note: 'Lung Opacity (reticular/interstitial)' }],
  ['lung diseases, interstitial', { rule: to('Lung Opacity'), note: 'Lung Opacity (interstitial)' }],
  ['markings', { rule: (q) => (has(q, 'interstitial') ? [['Lung Opacity', '1']] : []), note: 'interstitial markings → Lung Opacity' }],
  ['lung', { rule: (q) => (has(q, 'interstitial') ? [['Lung Opacity', '1']] : []), note: 'interstitial → Lung Opacity (hypo/hyperinflation unmapped)' }],
  ['cicatrix', { rule: (q) => (has(q, 'pleura') ? [['Pleural Other', '1']] : has(q, 'breast') ? [] : [['Lung Opacity', '1']]), note: 'pleural scar → Pleural Other; lung scar → Lung Opacity' }],
  ['consolidation', { rule: to('Consolidation'), note: 'Consolidation' }],
  ['pneumonia', { rule: to('Pneumonia'), note: 'Pneumonia' }],
  ['pulmonary edema', { rule: to('Edema'), note: 'Edema' }],
  ['edema', { rule: to('Edema'), note: 'Edema' }],
  ['pulmonary congestion', { rule: to('Edema'), note: 'Edema (vascular congestion)' }],
  ['heart failure', { rule: to('Edema'), note: 'Edema (heart failure)' }],
  ['fractures, bone', { rule: to('Fracture'), note: 'Fracture (old or new)' }],
  ['fracture', { rule: to('Fracture'), note: 'Fracture' }],
  ['nodule', { rule: (q) => (has(q, 'breast') ? [] : [['Lung Lesion', '1']]), note: 'Lung Lesion' }],
  ['mass', { rule: (q) => (has(q, 'breast') ? [] : [['Lung Lesion', '1']]), note: 'Lung Lesion' }],
  ['cavitation', { rule: to('Lung Lesion'), note: 'Lung Lesion (cavitary lesion)' }],
  ['lung lesion', { rule: to('Lung Lesion'), note: 'Lung Lesion' }],
  ['mediastinum', { rule: (q) => (has(q, 'prominent', 'enlarged', 'widened') ? [['Enlarged Cardiomediastinum', '1']] : []), note: 'prominent/enlarged/widened → Enlarged Cardiomediastinum' }],
  ['aortic aneurysm', { rule: to('Enlarged Cardiomediastinum'), note: 'Enlarged Cardiomediastinum (contour)' }],
  ['catheters, indwelling', DEVICE],
  ['tube, inserted', DEVICE],
  ['implanted medical device', DEVICE],
  ['medical device', DEVICE],
  ['stents', DEVICE],
]);

const normTerm = (t: string) => t.trim().toLowerCase().replace(/\s+/g, ' ');
const isUnindexed = (terms: string[]) => !terms.length || terms.some((t) => normTerm(t) === 'no indexing');

export interface IuMapping {
  /** CheXpert labels in canonical order, No Finding derived. */
  labels: Record<string, LabelValue>;
  /** Terms that yielded a label, and terms that did not (in report order). */
  mapped: string[];
  unmapped: string[];
  /** No Finding was set by the CheXpert rule although no term was coded "normal". */
  noFindingDerived: boolean;
}

/**
 * Maps one IU report's Problems terms (and their aligned MeSH qualifiers) to CheXpert labels, then
 * derives No Finding (see the file comment).
 */
export function mapIuProblems(problems: string, mesh = ''): IuMapping {
  const terms = problems.split(';').map((t) => t.trim()).filter(Boolean);
  const meshParts = mesh.split(';').map((t) => t.trim());
  // MeSH entries align one to one with Problems terms in this file; if they do not, use no qualifiers.
  const aligned = meshParts.length === terms.length;
  const labels: Record<string, LabelValue> = {};
  const mapped: string[] = [];
  const unmapped: string[] = [];
  terms.forEach((term, i) => {
    const entry = IU_MAPPING.get(normTerm(term));
    const q = aligned ? meshParts[i]!.split('/').slice(1).map((x) => x.trim().toLowerCase()) : [];
    const hits = entry ? entry.rule(q) : [];
    if (!hits.length) {
      unmapped.push(term);
      return;
    }
    mapped.push(term);
    for (const [l, v] of hits) if (labels[l] !== '1') labels[l] = v; // positive wins over uncertain
  });
  const coded = labels['No Finding'] === '1';
  delete labels['No Finding'];
  let noFindingDerived = false;
  const finding = Object.entries(labels).some(([k, v]) => k !== 'Support Devices' && (v === '1' || v === 'uncertain'));
  if (!finding && !isUnindexed(terms)) {
    labels['No Finding'] = '1';
    noFindingDerived = !coded;
  }
  return { labels: canonicalLabels(labels), mapped, unmapped, noFindingDerived };
}

/** The same mapping from a MeSH column alone (its head terms are the Problems terms). */
export function mapIuMesh(mesh: string): IuMapping {
  const heads = mesh.split(';').map((e) => e.split('/')[0]!.trim());
  return mapIuProblems(heads.join(';'), mesh);
}

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
 * - interstitial markings, reticular change and peribronchial thickening are Lung Opacity;
 *   fibrosis is Pleural Other (CheXpert lists plain "fibrosis" there), pulmonary fibrosis included;
 *   vascular congestion and heart failure are Edema; blunted costophrenic angles are an uncertain
 *   Pleural Effusion; a "borderline" qualifier makes any label uncertain.
 * Terms with no CheXpert observation (calcified granulomas, degenerative spine, tortuous aorta,
 * hyperinflation, hiatal hernia, volume loss, surgical clips...) set no label. Those that CheXpert
 * counts as "other findings" (./other_findings.ts: its no_finding phrase list) still rule out No
 * Finding, as in CheXpert: a code whose term or qualifiers contain one of its stems ("Calcified
 * Granuloma", "Thoracic Vertebrae/degenerative", "Aorta/prominent", "Emphysema", "Scoliosis",
 * "Hernia, Hiatal", "Osteophyte", "Diaphragm/elevated"), or IU's MeSH name for one
 * (IU_OTHER_FINDING_WORDS: Calcinosis is a calcification, Lung/hyperdistention a hyperinflation,
 * Blister a bulla, Bone Diseases, Metabolic osteopenia, Funnel Chest a deformity). A code with
 * neither (tortuous aorta, surgical clips, a poor image: "Technical Quality of Image
 * Unsatisfactory" is no finding in CheXpert's lists either) leaves No Finding as the others make it.
 *
 * No Finding is then derived as CheXpert (and MIMIC-CXR's chexpert.csv) defines it: 1 when no label
 * other than Support Devices is 1 or uncertain and no other finding is coded. Reports coded "No
 * Indexing" (or with no code at all) were never reviewed by the coders, so they get no label.
 */
import { canonicalLabels, NON_PATHOLOGY_LABELS, type ChexpertLabel, type LabelValue } from './labels.js';
import { findOtherFinding, type OtherFindingStem } from './other_findings.js';

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
  // CheXpert reads any "fibrosis" as Pleural Other (its pleural_other phrase list), so does our labeler.
  ['pulmonary fibrosis', { rule: to('Pleural Other'), note: 'Pleural Other ("fibrosis", as CheXpert)' }],
  ['cystic fibrosis', { rule: to('Pleural Other'), note: 'Pleural Other ("fibrosis", as CheXpert)' }],
  ['lung diseases, interstitial', { rule: to('Lung Opacity'), note: 'Lung Opacity (interstitial)' }],
  ['markings', { rule: (q) => (has(q, 'interstitial') ? [['Lung Opacity', '1']] : []), note: 'interstitial markings → Lung Opacity' }],
  ['lung', { rule: (q) => (has(q, 'interstitial') ? [['Lung Opacity', '1']] : []), note: 'interstitial → Lung Opacity (hyperdistention: an other finding; hypoinflation: nothing)' }],
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

/**
 * MeSH names (in a code's term or qualifiers, lower case) that IU's coders use for an other finding
 * but report text does not, with the stem they stand for (the shared list in ./other_findings.ts
 * covers the rest: "Osteophyte", "Spondylosis", "Diaphragm/elevated", "Pulmonary Disease, Chronic
 * Obstructive"...). Only the same finding under another name: a tortuous or enlarged aorta, clips
 * or a hypoinflated lung are not on CheXpert's list.
 */
export const IU_OTHER_FINDING_WORDS: ReadonlyArray<readonly [string, OtherFindingStem]> = [
  ['calcinosis', 'calcifi'],
  // Lungs coded "hyperdistention" / "Lung, Hyperlucent" are reported as hyperexpanded or hyperinflated.
  ['hyperdistention', 'hyperinflat'],
  ['lung, hyperlucent', 'hyperinflat'],
  // MeSH "Blister" codes pulmonary bullae in these reports ("bilateral apical bullae").
  ['blister', 'bullae'],
  // Osteopenia is coded "Bone Diseases, Metabolic".
  ['bone diseases, metabolic', 'osteopenia'],
  // Pectus excavatum: a chest wall deformity ("mild pectus excavatum deformity").
  ['funnel chest', 'deformity'],
];

/** The other-finding stem a code (term + "/" qualifiers, lower case) carries, if any. */
export function iuOtherFinding(code: string): OtherFindingStem | undefined {
  return findOtherFinding(code) ?? IU_OTHER_FINDING_WORDS.find(([w]) => code.includes(w))?.[1];
}

const normTerm = (t: string) => t.trim().toLowerCase().replace(/\s+/g, ' ');
/** Reports never reviewed by the coders ("No Indexing", or no code at all): they get no label. */
export const isUnindexed = (terms: readonly string[]): boolean => !terms.some((t) => t.trim()) || terms.some((t) => normTerm(t) === 'no indexing');
/** A ';'-separated code list without the empty entries of stray separators. */
const splitCodes = (codes: string): string[] => codes.split(';').map((t) => t.trim()).filter(Boolean);

export interface IuMapping {
  /** CheXpert labels in canonical order, No Finding derived. */
  labels: Record<string, LabelValue>;
  /** Terms that yielded a label, and terms that did not (in report order). */
  mapped: string[];
  unmapped: string[];
  /** Terms that are CheXpert "other findings" (they rule out No Finding), with the stem each matched. */
  otherFindings: Array<[string, OtherFindingStem]>;
  /** No Finding was set by the CheXpert rule although no term was coded "normal". */
  noFindingDerived: boolean;
}

/**
 * Maps one IU report's Problems terms (and their aligned MeSH qualifiers) to CheXpert labels, then
 * derives No Finding (see the file comment).
 */
export function mapIuProblems(problems: string, mesh = ''): IuMapping {
  const terms = splitCodes(problems);
  const meshParts = splitCodes(mesh);
  // MeSH entries align one to one with Problems terms in this file; if they do not, use no qualifiers.
  const aligned = meshParts.length === terms.length;
  const labels: Record<string, LabelValue> = {};
  const mapped: string[] = [];
  const unmapped: string[] = [];
  const otherFindings: Array<[string, OtherFindingStem]> = [];
  terms.forEach((term, i) => {
    const entry = IU_MAPPING.get(normTerm(term));
    const q = aligned ? meshParts[i]!.split('/').slice(1).map((x) => x.trim().toLowerCase()) : [];
    const other = iuOtherFinding([normTerm(term), ...q].join('/'));
    if (other) otherFindings.push([term, other]);
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
  const finding = Object.entries(labels).some(([k, v]) => !NON_PATHOLOGY_LABELS.has(k) && (v === '1' || v === 'uncertain'));
  if (!finding && !otherFindings.length && !isUnindexed(terms)) {
    labels['No Finding'] = '1';
    noFindingDerived = !coded;
  }
  return { labels: canonicalLabels(labels), mapped, unmapped, otherFindings, noFindingDerived };
}

/** The same mapping from a MeSH column alone (its head terms are the Problems terms). */
export function mapIuMesh(mesh: string): IuMapping {
  const heads = splitCodes(mesh).map((e) => e.split('/')[0]!.trim());
  return mapIuProblems(heads.join(';'), mesh);
}

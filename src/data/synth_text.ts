/**
 * Label-conditioned report text for the synthetic MIMIC-CXR tree. Every sentence is tied to the
 * label it expresses (positive, hedged for "uncertain", negated for "0"), so a model trained on it
 * has a learnable mapping from prompt labels to wording; phrasing varies over a few templates and
 * study-level attributes (side, lobe, severity) that findings and impression share.
 * A sentence must not mention another observation: "opacity", "hazy" or "density in the <lobe>"
 * are Lung Opacity mentions for CheXpert (and src/eval's labeler), so only Lung Opacity uses them
 * (test/data/synth.test.ts labels the reference text and checks it against the labels).
 */
import type { ChexpertLabel, LabelValue } from './labels.js';
import type { Rng } from './rng.js';

export interface StudyAttrs {
  side: 'right' | 'left' | 'bilateral';
  side1: 'right' | 'left';
  lobe: string;
  sev: 'mild' | 'moderate' | 'severe';
  size: 'small' | 'moderate' | 'large';
  cm: string;
  site: string;
  devices: Device[];
}

interface Device {
  finding: string;
  impression: string;
}

const LOBES = ['right upper lobe', 'right middle lobe', 'right lower lobe', 'left upper lobe', 'left lower lobe', 'lingula'];
const ORDINALS = ['third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth'];

const DEVICES: Array<(r: Rng, a: { side1: string }) => Device> = [
  (r) => ({ finding: `Endotracheal tube terminates ${r.range(2, 6)} cm above the carina.`, impression: 'Endotracheal tube in standard position.' }),
  () => ({ finding: 'Enteric tube courses below the diaphragm with the tip in the stomach.', impression: 'Enteric tube terminates in the stomach.' }),
  () => ({ finding: 'Right internal jugular central venous catheter terminates in the mid SVC.', impression: 'Right internal jugular line ends in the mid SVC.' }),
  (_r, a) => ({ finding: `${cap(a.side1)} PICC line tip is in the lower SVC.`, impression: `${cap(a.side1)} PICC line ends in the lower SVC.` }),
  () => ({ finding: 'Left-sided pacemaker with leads in the right atrium and right ventricle.', impression: 'Pacemaker leads in standard position.' }),
];

export function sampleAttrs(r: Rng): StudyAttrs {
  const side1 = r.pick(['right', 'left'] as const);
  const a: StudyAttrs = {
    side: r.weighted([['right', 0.35], ['left', 0.35], ['bilateral', 0.3]] as const),
    side1,
    lobe: r.pick(LOBES),
    sev: r.weighted([['mild', 0.5], ['moderate', 0.35], ['severe', 0.15]] as const),
    size: r.weighted([['small', 0.55], ['moderate', 0.35], ['large', 0.1]] as const),
    cm: (r.range(8, 35) / 10).toFixed(1),
    site: fractureSite(r, side1),
    devices: [],
  };
  const n = r.chance(0.3) ? 2 : 1;
  const picks = r.shuffle([0, 1, 2, 3, 4]).slice(0, n).sort();
  a.devices = picks.map((i) => DEVICES[i]!(r, a));
  return a;
}

function fractureSite(r: Rng, side1: string): string {
  const k = r.int(ORDINALS.length - 1);
  return r.pick([`${side1} ${ORDINALS[k]} rib`, `${side1} clavicle`, `${side1} ${ORDINALS[k]} and ${ORDINALS[k + 1]} ribs`, 'mid thoracic vertebral body']);
}

function cap(s: string): string {
  return s ? s[0]!.toUpperCase() + s.slice(1) : s;
}

function vars(a: StudyAttrs): Record<string, string> {
  const bi = a.side === 'bilateral';
  return {
    side: a.side,
    side1: a.side1,
    basilar: bi ? 'bibasilar' : `${a.side} basilar`,
    base: bi ? 'lung bases' : `${a.side} lung base`,
    effusion: bi ? 'pleural effusions' : 'pleural effusion',
    thereis: bi ? 'There are' : 'There is a',
    angle: bi ? 'costophrenic angles' : 'costophrenic angle',
    lobe: a.lobe,
    sev: a.sev,
    sevly: { mild: 'mildly', moderate: 'moderately', severe: 'markedly' }[a.sev],
    size: a.size,
    cm: a.cm,
    site: a.site,
  };
}

/** Fills `{var}` / `{Var}` (capitalised) placeholders and capitalises the sentence. */
export function fill(template: string, a: StudyAttrs): string {
  const v = vars(a);
  const out = template.replace(/\{(\w+)\}/g, (_m, k: string) => {
    const val = v[k.toLowerCase()];
    if (val === undefined) throw new Error(`synth template: unknown variable {${k}} in "${template}"`);
    return k[0] === k[0]!.toUpperCase() ? cap(val) : val;
  });
  return cap(out);
}

interface Phrases {
  pos: string[];
  unc: string[];
  neg: string[];
  imp: string[];
  impUnc: string[];
  /** Noun used when several negatives are listed in one sentence. */
  negNoun?: string;
}

export const PHRASES: Record<Exclude<ChexpertLabel, 'No Finding' | 'Support Devices'>, Phrases> = {
  Atelectasis: {
    pos: ['{Sev} {basilar} atelectasis.', 'There is {sev} atelectasis at the {base}.', 'Linear atelectasis at the {base}.', 'Streaky {basilar} atelectasis.'],
    unc: ['Atelectasis at the {base} cannot be excluded.', 'Possible {basilar} atelectasis.', 'Subtle {basilar} atelectasis is suspected.'],
    neg: ['No atelectasis.'],
    imp: ['{Sev} {basilar} atelectasis.', '{Basilar} atelectasis.'],
    impUnc: ['Possible {basilar} atelectasis.'],
    negNoun: 'atelectasis',
  },
  Cardiomegaly: {
    pos: ['{Sev} cardiomegaly.', 'The heart is {sevly} enlarged.', 'The heart size is {sevly} enlarged.', 'Stable {sev} enlargement of the cardiac silhouette.'],
    unc: ['The heart size is borderline enlarged.', 'Possible mild cardiomegaly.', 'The heart is top-normal to mildly enlarged.'],
    neg: ['The heart size is normal.', 'Heart size is within normal limits.', 'No cardiomegaly.'],
    imp: ['{Sev} cardiomegaly.'],
    impUnc: ['Borderline cardiomegaly.'],
  },
  Consolidation: {
    pos: ['Focal consolidation in the {lobe}.', 'There is consolidation of the {lobe}.', 'Dense consolidation is present in the {lobe}.'],
    unc: ['Possible consolidation in the {lobe}.', 'Consolidation in the {lobe} cannot be excluded.', 'Findings may represent early consolidation in the {lobe}.'],
    neg: ['No focal consolidation.', 'There is no focal consolidation.', 'No consolidation is seen.'],
    imp: ['{Lobe} consolidation.'],
    impUnc: ['Possible {lobe} consolidation.'],
    negNoun: 'focal consolidation',
  },
  Edema: {
    pos: ['{Sev} pulmonary edema.', 'There is {sev} interstitial pulmonary edema.', '{Sev} pulmonary edema with vascular congestion.', '{Sev} interstitial edema is present.'],
    unc: ['Mild vascular congestion may represent early edema.', 'Possible mild interstitial edema.', 'Cannot exclude mild pulmonary edema.'],
    neg: ['No pulmonary edema.', 'There is no pulmonary edema.', 'No evidence of pulmonary edema.'],
    imp: ['{Sev} pulmonary edema.'],
    impUnc: ['Possible mild pulmonary edema.'],
    negNoun: 'pulmonary edema',
  },
  'Enlarged Cardiomediastinum': {
    pos: ['The cardiomediastinal silhouette is enlarged.', 'The mediastinum is widened.', 'Widening of the superior mediastinum.'],
    unc: ['The mediastinum may be mildly widened, possibly due to technique.', 'Possible mediastinal widening.', 'Mediastinal widening cannot be excluded.'],
    neg: ['The mediastinal contours are normal.', 'The hilar and mediastinal contours are unremarkable.'],
    imp: ['Enlarged cardiomediastinal silhouette.', 'Mediastinal widening.'],
    impUnc: ['Possible mediastinal widening.'],
  },
  Fracture: {
    pos: ['Acute fracture of the {site}.', 'There is a displaced fracture of the {site}.', 'Healing fracture of the {site}.'],
    unc: ['Possible nondisplaced fracture of the {site}.', 'A subtle lucency in the {site} may represent a fracture.'],
    neg: ['No acute fracture.', 'No displaced rib fracture is seen.'],
    imp: ['Fracture of the {site}.'],
    impUnc: ['Possible fracture of the {site}.'],
  },
  'Lung Lesion': {
    pos: ['A {cm} cm nodule in the {lobe}.', 'There is a {cm} cm spiculated mass in the {lobe}.', 'Rounded {cm} cm nodule in the {lobe}.'],
    unc: ['A possible nodule projects over the {lobe}.', 'A nodular focus in the {lobe} may represent a nipple shadow versus a pulmonary nodule.', 'Cannot exclude a small nodule in the {lobe}.'],
    neg: ['No pulmonary nodules or masses.', 'No suspicious pulmonary nodule.'],
    imp: ['{Cm} cm {lobe} nodule. Recommend chest CT for further evaluation.', '{Lobe} mass measuring {cm} cm.'],
    impUnc: ['Possible {lobe} nodule; consider chest CT.'],
  },
  'Lung Opacity': {
    pos: ['Patchy opacity in the {lobe}.', 'There are hazy opacities in the {lobe}.', 'Increased opacity projecting over the {lobe}.'],
    unc: ['Possible faint opacity in the {lobe}, which may be due to overlapping soft tissue.', 'Possible subtle opacity in the {lobe}.'],
    neg: ['No focal opacity.'],
    imp: ['{Lobe} opacity.', 'Opacity in the {lobe}.'],
    impUnc: ['Possible subtle {lobe} opacity.'],
  },
  'Pleural Effusion': {
    pos: ['{Size} {side} {effusion}.', '{Thereis} {size} {side} {effusion}.', 'Evidence of {size} {side} {effusion}.'],
    unc: ['Possible small {side} {effusion}.', 'Blunting of the {side} {angle} may reflect trace pleural fluid.', 'Small {side} {effusion} cannot be excluded.'],
    neg: ['No pleural effusion.', 'There is no pleural effusion.', 'No large pleural effusion.'],
    imp: ['{Size} {side} {effusion}.'],
    impUnc: ['Possible small {side} {effusion}.'],
    negNoun: 'pleural effusion',
  },
  'Pleural Other': {
    pos: ['{Side} apical pleural thickening.', 'Calcified {side} pleural plaques are noted.', '{Side} pleural thickening is unchanged.'],
    unc: ['Possible {side} pleural thickening.', '{Side} pleural thickening cannot be excluded.'],
    neg: ['No pleural thickening.'],
    imp: ['{Side} pleural thickening.'],
    impUnc: ['Possible {side} pleural thickening.'],
  },
  Pneumonia: {
    pos: ['Findings are consistent with pneumonia in the {lobe}.', 'There is pneumonia in the {lobe}.', 'Pneumonia involving the {lobe}.'],
    unc: ['Findings may represent pneumonia in the {lobe}.', 'Pneumonia in the {lobe} cannot be excluded.', 'Possible early pneumonia in the {lobe}.'],
    neg: ['No evidence of pneumonia.', 'No findings to suggest pneumonia.'],
    imp: ['{Lobe} pneumonia.', 'Pneumonia in the {lobe}.'],
    impUnc: ['Possible {lobe} pneumonia.', 'Cannot exclude pneumonia in the {lobe}.'],
  },
  Pneumothorax: {
    pos: ['{Size} {side1} apical pneumothorax.', 'There is a {size} {side1} pneumothorax.', 'A {size} {side1} pneumothorax is present.'],
    unc: ['Possible tiny {side1} apical pneumothorax.', 'A tiny {side1} apical pneumothorax cannot be excluded.'],
    neg: ['No pneumothorax.', 'There is no pneumothorax.', 'No pneumothorax is seen.'],
    imp: ['{Size} {side1} pneumothorax.'],
    impUnc: ['Possible tiny {side1} apical pneumothorax.'],
    negNoun: 'pneumothorax',
  },
};

/** Anatomic order in which a radiologist dictates: devices, lungs, pleura, heart, bones. */
const FINDINGS_ORDER: ChexpertLabel[] = [
  'Support Devices', 'Consolidation', 'Lung Opacity', 'Pneumonia', 'Atelectasis', 'Lung Lesion', 'Edema',
  'Pleural Effusion', 'Pneumothorax', 'Pleural Other', 'Cardiomegaly', 'Enlarged Cardiomediastinum', 'Fracture',
];
const LUNG: ChexpertLabel[] = ['Consolidation', 'Lung Opacity', 'Pneumonia', 'Atelectasis', 'Lung Lesion', 'Edema'];

const NORMAL_IMPRESSIONS = ['No acute cardiopulmonary process.', 'No acute intrathoracic abnormality.', 'Normal chest radiograph.', 'No evidence of acute cardiopulmonary disease.'];

function joinNouns(nouns: string[]): string {
  if (nouns.length <= 2) return nouns.join(' or ');
  return `${nouns.slice(0, -1).join(', ')}, or ${nouns[nouns.length - 1]}`;
}

/** Findings and impression sentences expressing exactly `labels`. */
export function composeReport(labels: Readonly<Record<string, LabelValue>>, a: StudyAttrs, r: Rng): { findings: string[]; impression: string[] } {
  const findings: string[] = [];
  const impression: string[] = [];
  const val = (l: ChexpertLabel) => labels[l];
  // Negatives that can share one sentence ("No focal consolidation, pleural effusion, or pneumothorax.").
  const groupable = FINDINGS_ORDER.filter((l) => val(l) === '0' && l in PHRASES && PHRASES[l as keyof typeof PHRASES].negNoun);
  const grouped = groupable.length >= 2 && r.chance(0.6) ? new Set(groupable) : new Set<ChexpertLabel>();
  const heartBoth = val('Cardiomegaly') === '0' && val('Enlarged Cardiomediastinum') === '0' && r.chance(0.6);
  const anyLung = LUNG.some((l) => val(l) === '1' || val(l) === 'uncertain');
  if (!anyLung && r.chance(0.7)) findings.push(r.pick(['The lungs are clear.', 'Lungs are well expanded and clear.', 'The lungs are well aerated.']));
  for (const l of FINDINGS_ORDER) {
    const v = val(l);
    if (!v) continue;
    if (l === 'Support Devices') {
      if (v === '1') for (const d of a.devices) findings.push(d.finding);
      else if (v === 'uncertain') findings.push('A catheter projecting over the upper abdomen may be external to the patient.');
      else findings.push('No lines or tubes are present.');
      continue;
    }
    if (grouped.has(l)) {
      if (l === groupable[0]) {
        const nouns = groupable.map((g) => PHRASES[g as keyof typeof PHRASES].negNoun!);
        findings.push(r.chance(0.5) ? `No ${joinNouns(nouns)}.` : `There is no ${joinNouns(nouns)}.`);
      }
      continue;
    }
    if (heartBoth && (l === 'Cardiomegaly' || l === 'Enlarged Cardiomediastinum')) {
      if (l === 'Cardiomegaly') findings.push(r.pick(['The cardiomediastinal silhouette is within normal limits.', 'Heart size and mediastinal contours are normal.']));
      continue;
    }
    const p = PHRASES[l as keyof typeof PHRASES];
    findings.push(fill(r.pick(v === '1' ? p.pos : v === 'uncertain' ? p.unc : p.neg), a));
  }
  if (val('Fracture') === undefined && r.chance(0.3)) {
    const bones = r.pick(['The visualized osseous structures are unremarkable.', 'Degenerative changes of the thoracic spine.']);
    // A degenerative change is one of CheXpert's other findings: it would rule out No Finding
    // (./other_findings.ts), so only a study that has a pathology (No Finding blank anyway) gets it.
    const pathology = FINDINGS_ORDER.some((l) => l !== 'Support Devices' && (val(l) === '1' || val(l) === 'uncertain'));
    findings.push(!pathology && bones.startsWith('Degenerative') ? 'The visualized osseous structures are unremarkable.' : bones);
  }

  // Impression: devices, then pathologies, then a pertinent negative now and then.
  const items: string[] = [];
  if (val('Support Devices') === '1') for (const d of a.devices) items.push(d.impression);
  for (const l of FINDINGS_ORDER) {
    const v = val(l);
    if (l === 'Support Devices' || (v !== '1' && v !== 'uncertain')) continue;
    const p = PHRASES[l as keyof typeof PHRASES];
    items.push(fill(r.pick(v === '1' ? p.imp : p.impUnc), a));
  }
  const pathology = items.length - (val('Support Devices') === '1' ? a.devices.length : 0);
  if (!pathology) items.push(r.pick(NORMAL_IMPRESSIONS));
  else if (val('Pneumothorax') === '0' && r.chance(0.3)) items.push('No pneumothorax.');
  if (items.length >= 2 && r.chance(0.5)) impression.push(...items.map((s, i) => `${i + 1}. ${s}`));
  else impression.push(...items);
  return { findings, impression };
}

/**
 * Phrase tables for the rule-based CheXpert-style labeler (chexpert_labeler.ts).
 *
 * Patterns are JavaScript regular-expression fragments matched against *normalized* text:
 * lowercase, hyphens and slashes turned into spaces, commas kept as a separate " , " token,
 * other punctuation removed, single spaces. A literal space in a pattern therefore matches
 * exactly one word gap, and every pattern is anchored on word boundaries when compiled.
 * De-identification placeholders ("XXXX" in the IU reports) are kept as the word "xxxx", so
 * patterns may allow it where a common word was removed ("costophrenic xxxx" = angle).
 *
 * The ideas (mention / unmention phrases per observation; negation and uncertainty cues; an
 * uncertainty check before the negation check so "cannot exclude" is not read as negation)
 * follow the public CheXpert labeler; the tables themselves were written for this project and
 * tuned on the IU X-ray reports (see docs/LABELER.md).
 */

/** The 14 observations, in the column order of the CheXpert label CSV (one list for data and eval). */
import { CHEXPERT_LABELS, type ChexpertLabel } from '../data/labels.js';
import { OTHER_FINDING_PHRASES } from '../data/other_findings.js';

export const CHEXPERT_OBSERVATIONS = CHEXPERT_LABELS;

export type ChexpertObservation = ChexpertLabel;

/** Observations that are computed rather than matched (No Finding). */
export type MatchedObservation = Exclude<ChexpertObservation, 'No Finding'>;

export interface ObservationPhrases {
  /** Phrases naming the finding itself ("cardiomegaly", "pleural effusion"). */
  mention: readonly string[];
  /** Mentions that carry their own hedge and are at most 'uncertain' ("vascular congestion"). */
  hedged?: readonly string[];
  /**
   * Anatomy named without a finding ("heart size", "mediastinum"): labelled only by a nearby
   * qualifier (see QUALIFIERS): abnormal → positive, borderline → uncertain, normal → negative;
   * an anatomy mention with no qualifier gives no label.
   */
  anatomy?: readonly string[];
  /** Anatomy whose abnormal qualifier only suggests the finding (→ at most 'uncertain'). */
  anatomyHedged?: readonly string[];
  /**
   * Explanations that, found after a mention in the same clause, show it is a mimic rather than
   * the finding ("nodular opacity ... consistent with a granuloma"); the mention is dropped.
   */
  explainedBy?: readonly string[];
  /** Spans that must not count as a mention of this observation ("pericardial effusion"). */
  unmention?: readonly string[];
}

const SIDE = '(?:(?:left|right|bilateral|bibasilar|basilar|biapical|apical|lower|upper|middle|lobe|base|bases) )*';

export const OBSERVATION_PHRASES: Record<MatchedObservation, ObservationPhrases> = {
  Atelectasis: {
    mention: [
      'atelecta(?:sis|ses|tic)',
      `(?:${SIDE}(?:lobar|lobe|segmental|lung) )collapse`,
      'collapse of the (?:left |right )?(?:lower |upper |middle )?(?:lobe|lung)',
      '(?:platelike|plate like|discoid|subsegmental) (?:opacit(?:y|ies)|densit(?:y|ies))',
    ],
  },
  Cardiomegaly: {
    mention: [
      'cardiomegaly',
      'cardiac (?:enlargement|prominence)',
      'enlarge(?:d|ment of the) (?:heart|cardiac (?:silhouette|shadow|contour|size))',
      'enlarged cardiac',
      'increase(?:d)? in (?:the )?(?:size of the )?(?:heart|cardiac silhouette|cardiac size|heart size)',
    ],
    anatomy: [
      'heart(?! failure| valve| border| borders)(?: size)?',
      'cardiac (?:silhouette|shadow|contour|contours|size|diameter)',
    ],
  },
  Consolidation: {
    mention: ['consolidat(?:ion|ions|ive|ed)'],
  },
  Edema: {
    mention: [
      'edema',
      'oedema',
      'chf',
      'congestive (?:heart )?failure',
      'fluid overload',
      'kerley b lines?',
      'cephalization',
    ],
    // Congestion and vascular prominence suggest, but do not state, edema (CheXpert: uncertain).
    hedged: [
      '(?:(?:pulmonary|central) )?vascular (?:congestion|congestive changes|engorgement|redistribution|prominence)',
      '(?:pulmonary |mild |central )?(?:venous )?congestion',
      'pulmonary venous hypertension',
      'heart failure',
    ],
    anatomyHedged: ['(?:(?:pulmonary|central|lung|perihilar) )*vascula(?:rity|ture|r markings)', 'pulmonary (?:vessels|xxxx)'],
    unmention: ['(?:soft tissue|subcutaneous|facial|extremity) edema'],
  },
  'Enlarged Cardiomediastinum': {
    mention: [
      '(?:widened|widening of the|enlarged|enlargement of the) (?:superior )?(?:cardio)?mediastin(?:um|al (?:contour|contours|silhouette|silhouettes))',
      '(?:cardio)?mediastinal (?:widening|enlargement)',
      'widened (?:superior )?mediastinum',
      '(?:mediastinal|paratracheal|subcarinal|aortopulmonary) (?:adenopathy|lymphadenopathy|mass|fullness|widening|prominence)',
    ],
    anatomy: [
      '(?:superior )?(?:cardio)?mediastin(?:um|al (?:contour|contours|silhouette|silhouettes|size|width))',
      'cardiomediastinal',
      '(?:right |left )?paratracheal (?:stripe|soft tissues?|region)',
    ],
  },
  Fracture: {
    mention: ['fractur(?:e|es|ed)', 'fx'],
    unmention: ['(?:catheter|lead|wire|wires|screw|hardware|sternotomy xxxx) fractur(?:e|es|ed)'],
  },
  'Lung Lesion': {
    mention: [
      'nodul(?:e|es|ar densit(?:y|ies)|ar opacit(?:y|ies)|arity)',
      'mass(?:es)?(?! effect)',
      'cavitary (?:lesion|lesions)',
      '(?:lung|pulmonary|parenchymal) (?:lesion|lesions)',
      'tumou?rs?',
      'neoplasms?',
      'carcinoma',
      'malignancy',
      'metasta(?:sis|ses|tic disease)',
      'lung cancer',
    ],
    unmention: ['calcified (?:nodule|nodules)', 'nodular (?:granuloma|granulomas)', 'nipple (?:shadow|shadows)'],
    // "Nodular density ... consistent with a granuloma / nipple shadow / healing fracture".
    explainedBy: [
      '(?:consistent with|compatible with|represents?|representing|reflects?|reflecting|likely|probably|due to|from|suggestive of|xxxx) (?:(?:a|an|the|small|calcified|old|prior|patient s|chronic|bilateral) )*(?:granulomas?|granulomatous|nipples?|nipple shadows?|healing|healed|overlapping|superimposed|costochondral|artifact|bone island|vessels?|vascular)',
    ],
  },
  'Lung Opacity': {
    mention: [
      'opaci(?:ty|ties|fication|fications|fied)',
      'infiltra(?:te|tes|tion|tive)',
      '(?:lung |pulmonary |parenchymal |airspace |air space |basilar |base |basal )densit(?:y|ies)',
      'densit(?:y|ies) (?:in|within|at|of|projecting over|overlying) the (?:left |right )?(?:lung|lower|upper|middle|lingula|base|bases)',
      'air ?space (?:disease|process|opacit(?:y|ies))',
      'alveolar (?:disease|process|filling)',
      'interstitial (?:lung )?(?:markings?|opacit(?:y|ies)|prominence|thickening|disease|pattern|changes|lung disease)',
      'prominent interstitium',
      '(?:totally |completely )?opaque',
      '(?:reticular|reticulonodular|ground glass)(?: opacit(?:y|ies)| pattern| changes)?',
      '(?:haziness|hazy)',
      // CheXpert lists "scar" under Lung Opacity and unmentions only "pleural scar": a pleural scar
      // is Pleural Other alone, a pleuro-parenchymal scar both (as in CheXpert's phrase lists).
      'scar(?:s|ring|red)?',
    ],
    unmention: ['pleural scar(?:s|ring|red)?'],
  },
  'Pleural Effusion': {
    mention: [
      '(?:pleural )?effusions?',
      'pleural fluid',
      '(?:hydro|hemo)thorax',
      'hydropneumothorax',
      'fluid in the (?:left |right )?(?:minor |major )?(?:fissure|pleural space)',
    ],
    hedged: [
      'blunt(?:ing|ed) of the (?:left |right |bilateral |posterior |lateral )*costophrenic(?: angles?| sulci| sulcus| xxxx| recess)?',
      'costophrenic (?:angles?|sulci|sulcus|xxxx|recess)? ?(?:are |is )?blunt(?:ed|ing)',
    ],
    unmention: ['pericardial effusions?', '(?:joint|knee|shoulder) effusions?'],
  },
  'Pleural Other': {
    mention: [
      'pleural (?:thickening|scar|scarring|plaque|plaques|calcification|calcifications|fibrosis)',
      // CheXpert's "pleural parenchymal scar", "pleuro-parenchymal scar", "pleuro-pericardial scar"
      // (hyphens are spaces here), and its plain "fibrosis" ("pulmonary fibrosis" included).
      'pleura(?:l)? (?:parenchymal|pericardial) scar(?:s|ring)?',
      'pleuro ?(?:parenchymal|pericardial) scar(?:s|ring)?',
      'fibrosis',
      'fibrothorax',
      '(?:fissur(?:e|al)|pleural) (?:thickening|abnormality|abnormalities)',
      'thickening (?:of|in) the (?:(?:right|left|minor|major|horizontal|oblique|xxxx) )*fissures?',
      '(?:apical|biapical) (?:pleural )?(?:thickening|capping|cap|caps)',
    ],
  },
  Pneumonia: {
    mention: ['pneumonias?', 'bronchopneumonia', 'pneumonitis', 'infect(?:ion|ions|ious (?:process|disease|infiltrate))'],
    // Healed granulomatous infection is a sequela, not pneumonia.
    unmention: ['(?:(?:prior|previous|old|remote|healed) )?granulomatous (?:infection|disease|process)', '(?:prior|previous|old|remote|healed) infection'],
  },
  Pneumothorax: {
    mention: [
      'pneumothora(?:x|ces|xes)',
      '(?:hydro|hemo)pneumothorax',
      'ptx',
      'pleural air(?: collections?)?',
      'air (?:collection )?(?:with|within|in) the pleural space',
    ],
  },
  'Support Devices': {
    mention: [
      'pace(?:maker|r)s?',
      '(?:dual |triple )?(?:lumen )?(?:picc|central venous|venous|central|jugular|subclavian|arterial|dialysis|swan ganz|port) (?:line|lines|catheter|catheters)',
      'picc',
      'catheters?',
      '(?:endotracheal|et|nasogastric|ng|orogastric|og|feeding|enteric|chest|tracheostomy|dobhoff|gastric|gastrostomy) tubes?',
      'tracheostomy',
      'tubing',
      'port a cath|portacath|mediport|power port|(?:chest|venous) port',
      // A line/catheter tip is how reports place a device even when its name was de-identified.
      '(?:with |its |distal |catheter |line |tube )?tips?',
      '(?:aicd|icd|defibrillator|loop recorder|neurostimulator|stimulator|occluder|generator)',
      '(?:closure|electronic|cardiac|medical|implanted|implantable|monitoring) devices?',
      'devices?',
      '(?:pacer|pacemaker|defibrillator|cardiac|monitor|monitoring|ecg|ekg|external) (?:lead|leads|wires?|electrodes?)',
      'leads',
      '(?:prosthetic|mechanical|replaced|replacement|bioprosthetic) (?:aortic |mitral |pulmonic |tricuspid )?valves?',
      '(?:(?:aortic|mitral|pulmonic|tricuspid) )?valve (?:replacement|prosthesis)',
      'stents?',
      'drains?',
      '(?:vp |ventriculoperitoneal |tips )?shunt(?: tubing| catheter)?',
      'tips',
      'ivc filter|filter',
      'hardware',
      'prosthe(?:sis|ses|tic)',
      '(?:internal )?fixation',
      'arthroplasty',
      'screws?',
      'plates?',
      'anchors?',
    ],
    unmention: [
      '(?:left|right) to (?:right|left) shunt',
      'plate like',
      '(?:scapular|lingular) tip|tip of the (?:scapula|lingula|clavicle|acromion|rib|spinous)',
      'tips of the (?:scapulae|scapula|ribs)',
    ],
  },
};

/**
 * CheXpert's other findings (src/data/other_findings.ts: its stems and our variants, shared with the
 * IU code mapping): a positive or uncertain mention leaves No Finding absent and sets no label. Each
 * phrase matches the whole word it occurs in, anywhere in it, as CheXpert's substring search
 * ("scoliosis" in "kyphoscoliosis").
 */
export const OTHER_FINDING_PATTERNS: readonly string[] = OTHER_FINDING_PHRASES.map((phrase) => `[a-z]*${phrase}[a-z]*`);

/**
 * Qualifiers for anatomy mentions, searched in the same clause (nearest one wins).
 * Order within a sentence does not matter: "enlarged heart" and "heart is enlarged" both count.
 */
export const QUALIFIERS = {
  abnormal: [
    'enlarg(?:ed|ement)',
    'large',
    'increased (?:in )?(?:size|width)',
    'widen(?:ed|ing)',
    'prominen(?:t|ce)',
    'engorged',
    'increased',
    'mildly enlarged',
    'moderately enlarged',
    'markedly enlarged',
  ],
  borderline: [
    'borderline(?: enlarged| large| enlargement)?',
    'possibility of',
    'mildly prominent',
  ],
  // "Upper limits of normal" is still normal; IU coders do not code it as cardiomegaly either.
  normal: [
    'normal',
    'top (?:of )?normal',
    '(?:at )?(?:the )?upper (?:limits?|range) (?:of )?normal',
    'upper normal',
    'at the upper limits',
    'within normal limits',
    'unremarkable',
    '(?:not|nor) (?:\\w+ ){0,2}(?:enlarged|widened|prominent|engorged|increased)',
    'no (?:\\w+ ){0,2}(?:enlargement|widening)',
    'normal (?:in )?size',
    'unchanged and normal',
  ],
} as const;

/** Cue tables: each entry is a pattern fragment matched on the normalized clause. */
export const CUES = {
  /** Checked first: these make a mention uncertain even though they contain a negation word. */
  preNegationUncertain: [
    'cannot (?:be )?(?:entirely |completely |totally )?(?:exclude|excluded|rule out|ruled out)',
    'can not (?:be )?(?:entirely |completely )?(?:exclude|excluded|rule out|ruled out)',
    'could not (?:be )?(?:exclude|excluded|rule out|ruled out)',
    '(?:difficult|hard|unable) to (?:exclude|rule out|exclude the possibility of)',
    'not (?:entirely |completely )?(?:excluded|ruled out)',
    'no evidence to rule out',
    'not (?:well )?(?:be )?(?:excluded)',
    'not clearly (?:seen|visualized|identified)',
    'not (?:well|fully|adequately) (?:seen|visualized|evaluated|assessed)',
  ],
  /** Negation before the mention, within its clause. */
  preNegation: [
    'no',
    'not',
    'without',
    'negative for',
    'free of',
    'clear of',
    'absence of',
    'absent',
    'resolution of',
    'resolved',
    'removal of',
    'nor',
    'neither',
    'never',
    'rather than',
  ],
  /** Negation after the mention, within a few words ("effusion has resolved"). */
  postNegation: [
    '(?:is|are|was|were|has been|have been) (?:not|no longer) (?:seen|identified|present|visualized|visible|appreciated|evident|demonstrated|noted|apparent|detected)',
    'not (?:seen|identified|present|visualized|visible|appreciated|evident|demonstrated|noted|apparent|detected)',
    'no longer (?:seen|present|visualized|visible|evident|apparent|identified)',
    '(?:has|have) (?:resolved|cleared|been removed)',
    'resolved',
    'removed',
    '(?:is|are) absent',
    'absent',
    '(?:is|are) (?:negative|excluded)',
    'may not be (?:demonstrated|seen|visible|detected|apparent)',
    '(?:appears? |is |are )?within (?:the )?(?:normal limits|limits of normal)',
  ],
  /** Uncertainty before the mention ("possible", "may represent"...). */
  preUncertain: [
    'possibl[ey]',
    'probabl[ey]',
    'likely',
    'may',
    'might',
    'could',
    'questionabl[ey]',
    'question of',
    'questioned',
    'suspicious (?:for|of)',
    'suspicion (?:for|of)',
    'suspect(?:ed)?',
    'concern(?:ing)? for',
    'worrisome for',
    'suggest(?:s|ing|ive|ive of|ion of)?',
    'presum(?:ed|ably)',
    'equivocal',
    'indeterminate',
    'borderline',
    'differential (?:diagnosis )?(?:includes?|considerations?)?',
    'consider(?:ed)?',
    'versus',
    'vs',
    'or',
    'and or',
    'rule out',
    'r o',
    'evaluate for',
    'to exclude',
    'exclude',
    'history of',
    'cannot be differentiated',
    'favou?r(?:ed)?',
  ],
  /** Hedges that govern a whole list ("differential includes X, Y, or Z"): they cross commas. */
  preUncertainList: [
    'differential (?:diagnosis |considerations? )?(?:includes?|is|are)',
    'differential considerations?',
    '(?:may|could|might) (?:also )?(?:represent|reflect|indicate|be due to|be secondary to)',
    'considerations? (?:includes?|are)',
    'possibly',
    'such as',
  ],
  /** Uncertainty after the mention ("pneumonia is suspected", "atelectasis versus ..."). */
  postUncertain: [
    '(?:is|are) (?:possible|likely|probable|suspected|questioned|not excluded|favored)',
    'cannot be (?:excluded|ruled out)',
    'not (?:excluded|ruled out)',
    'versus',
    'vs',
    'or',
    'and or',
    'less likely',
    'not (?:well |clearly )(?:seen|visualized|evaluated)',
    'poorly (?:seen|visualized|evaluated)',
    'may be present',
    'could be present',
  ],
  /**
   * Spans that look like negation but are not ("no change", "without interval change"):
   * cue matches inside these are ignored, so "no change in the small effusion" stays positive.
   */
  pseudoNegation: [
    '(?:no|without|not) (?:significant |appreciable |substantial |definite |interval |significantly )*(?:change|changed|increase|increased|decrease|decreased|progression|worsening)',
    'no longer',
    'not only',
  ],
  /**
   * Clause breakers: a cue never reaches across these. Sentence ends (. ; : ? ! newline) are
   * breakers already.
   */
  scopeBreakers: [
    'but',
    'however',
    'although',
    'though',
    'whereas',
    'while',
    'yet',
    'except',
    'except for',
    'apart from',
    'aside from',
    'other than',
    'besides',
    'which',
    'that',
    'who',
    'there (?:is|are|has been|have been|was|were)',
    'otherwise',
    'and there',
    'with (?:the )?exception of',
    'again (?:seen|noted)',
    'now',
  ],
} as const;

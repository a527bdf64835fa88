/**
 * CheXpert's "other findings": abnormalities that are none of its 13 observations but still rule out
 * No Finding. The CheXpert labeler (stanfordmlgroup/chexpert-labeler) keeps them as the mention
 * phrases of its No Finding category (phrases/mention/no_finding.txt). Its aggregator
 * (stages/aggregate.py) sets No Finding = 1 only when no category other than Support Devices, No
 * Finding's own phrases included, has a positive or uncertain mention, and it never turns these
 * phrases into a label. So "calcified granuloma, no acute disease" leaves No Finding blank, as it is
 * in MIMIC-CXR's chexpert.csv.
 *
 * This is the one definition. The IU code mapping (./iu_mapping.ts) and our labeler
 * (src/eval/chexpert_phrases.ts) both use it. The phrases are word stems, and they match anywhere in
 * a word, as the CheXpert labeler's plain substring search does: "calcifi" matches "calcified",
 * "hyperinflat" matches "hyperinflated", "scoliosis" matches "kyphoscoliosis". OTHER_FINDING_VARIANTS
 * adds, under the same stems, the forms and names of the same findings that a substring search for
 * CheXpert's stems misses ("osteophytes" is not "osteophytosis", "hyperexpanded" not
 * "hyperexpansion", "thoracic spondylosis" is a degenerative change).
 */

/** chexpert-labeler phrases/mention/no_finding.txt, in its order. */
export const OTHER_FINDING_STEMS = [
  'emphysema', 'blunt', 'density', 'elevation', 'eventration', 'scoliosis', 'degenera', 'calcifi', 'hyperinflation',
  'bronchospasm', 'asthma', 'hernia', 'copd', 'interstitial markings', 'plaque', 'osteophytosis', 'aortic disease',
  'bronchiolitis', 'airways disease', 'thickening', 'cephalization', 'aspiration', 'bullae', 'hyperinflat', 'contusion',
  'atherosclero', 'osteopenia', 'metastasis', 'granuloma', 'pneumomediastinum', 'pneumoperitoneum', 'osteodystrophy',
  'cuffing', 'irregular lucency', 'inflam', 'fissure', 'hypertension', 'prominen', 'kyphosis', 'defib', 'hyperexpansion',
  'bullet', 'reticula', 'thoracentesis', 'bronchitis', 'volume loss', 'deformity', 'hemorrhage', 'hematoma', 'radiopaque',
  'aerophagia', 'arthropathy', 'tracheostomy',
] as const;

export type OtherFindingStem = (typeof OTHER_FINDING_STEMS)[number];

/** Our additions: [substring, the CheXpert stem whose finding it names]. Matched like the stems. */
export const OTHER_FINDING_VARIANTS: ReadonlyArray<readonly [string, OtherFindingStem]> = [
  // Inflections CheXpert's stems do not contain.
  ['deformit', 'deformity'], ['bulla', 'bullae'], ['bullous', 'bullae'], ['osteophyt', 'osteophytosis'],
  ['hyperexpan', 'hyperexpansion'], ['hyperaerat', 'hyperinflat'], ['osteopeni', 'osteopenia'], ['kyphotic', 'kyphosis'],
  ['scoliotic', 'scoliosis'], ['elevated', 'elevation'], ['metastas', 'metastasis'],
  // Other names of the same findings.
  ['spondylosis', 'degenera'], ['arthriti', 'arthropathy'], ['chronic obstructive', 'copd'], ['osteoporo', 'osteopenia'],
  ['curvature', 'scoliosis'], ['pectus', 'deformity'], ['hyperostosis', 'osteophytosis'],
];

/**
 * The other finding `text` (lower case, single spaces) names, as its CheXpert stem: the first stem
 * (in list order) that occurs in it, else the first variant's; undefined when none does.
 */
export function findOtherFinding(text: string): OtherFindingStem | undefined {
  return OTHER_FINDING_STEMS.find((s) => text.includes(s)) ?? OTHER_FINDING_VARIANTS.find(([v]) => text.includes(v))?.[1];
}

/** Every phrase (stems, then variants) that names an other finding, for pattern tables. */
export const OTHER_FINDING_PHRASES: readonly string[] = [...OTHER_FINDING_STEMS, ...OTHER_FINDING_VARIANTS.map(([v]) => v)];

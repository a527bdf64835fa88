/** Evaluation: text metrics (BLEU, ROUGE-L), a CheXpert-style labeler and label agreement. */
export { tokenize, type TokenizeOptions } from './tokenize.js';
export { corpusBleu, corpusBleuTokens, sentenceBleu, closestRefLength, type BleuOptions, type BleuResult } from './bleu.js';
export { rougeL, sentenceRougeL, rougeLTokens, lcsLength, type RougeLOptions, type RougeLResult, type RougeScore } from './rouge.js';
export {
  CHEXPERT_OBSERVATIONS,
  OBSERVATION_PHRASES,
  CUES,
  QUALIFIERS,
  type ChexpertObservation,
  type MatchedObservation,
  type ObservationPhrases,
} from './chexpert_phrases.js';
export {
  labelReport,
  labelReportDetailed,
  splitSentences,
  normalizeSentence,
  type ChexpertLabels,
  type LabelValue,
  type LabelerResult,
  type Mention,
  type MentionStatus,
} from './chexpert_labeler.js';
export {
  labelAgreement,
  binaryLabelMetrics,
  parsePromptLabels,
  canonicalObservation,
  type LabelPair,
  type LabelAgreementOptions,
  type LabelMetricsResult,
  type LabelScores,
  type PerLabelMetrics,
  type PromptLabelValue,
} from './label_metrics.js';
export { parseIuReports, iuTruth, validateOnIuReports, formatLabelMetricsTable, type IuReport, type IuValidationResult } from './iu_validation.js';

/**
 * English non-breaking prefixes used by sacremoses' MosesTokenizer (lang="en"): a word in this list
 * followed by "." keeps its period. Entries marked "#NUMERIC_ONLY#" only keep it before a digit.
 *
 * Quirk reproduced on purpose: sacremoses stores the marked entries verbatim (e.g. "No #NUMERIC_ONLY#"),
 * so the bare word ("No") is never found in the ordinary list and only the numeric-only rule (or the
 * "next word is lowercase" rule) can keep its period.
 */
const EN_PREFIX_LINES = [
  // single upper-case letters (initials)
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split(''),
  // titles
  'Adj', 'Adm', 'Adv', 'Asst', 'Bart', 'Bldg', 'Brig', 'Bros', 'Capt', 'Cmdr', 'Col', 'Comdr', 'Con', 'Corp',
  'Cpl', 'DR', 'Dr', 'Drs', 'Ens', 'Gen', 'Gov', 'Hon', 'Hr', 'Hosp', 'Insp', 'Lt', 'MM', 'MR', 'MRS', 'MS',
  'Maj', 'Messrs', 'Mlle', 'Mme', 'Mr', 'Mrs', 'Ms', 'Msgr', 'Op', 'Ord', 'Pfc', 'Ph', 'Prof', 'Pvt', 'Rep',
  'Reps', 'Res', 'Rev', 'Rt', 'Sen', 'Sens', 'Sfc', 'Sgt', 'Sr', 'St', 'Supt', 'Surg',
  // misc items that never end a sentence
  'v', 'vs', 'i.e', 'rev', 'e.g', 'Rs',
  // numbers only
  'No #NUMERIC_ONLY#', 'Nos', 'Art #NUMERIC_ONLY#', 'Nr', 'pp #NUMERIC_ONLY#',
  // month abbreviations (May is a full word)
  'Jan', 'Feb', 'Mar', 'Apr', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec',
];

/** Entries as sacremoses holds them (marked ones verbatim). */
export const EN_NONBREAKING_PREFIXES: ReadonlySet<string> = new Set(EN_PREFIX_LINES);

/** Words before the " #NUMERIC_ONLY#" marker: "No", "Art", "pp". */
export const EN_NUMERIC_ONLY_PREFIXES: ReadonlySet<string> = new Set(
  EN_PREFIX_LINES.filter((w) => /\s#NUMERIC_ONLY#/.test(w)).map((w) => w.slice(0, w.lastIndexOf(' '))),
);

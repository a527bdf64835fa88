/**
 * What `radgrad train` checks before it reads any data or starts the GPU, so that a mistake fails at
 * once, naming the flag, instead of minutes (or hours) into the run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RadgradError } from '../../src/errors.js';
import { loadBioGptConfig, type BioGptConfig } from '../../src/io/biogpt_config.js';
import { TRAINER_STATE, listCheckpoints } from '../../src/train/checkpoint.js';
import { TrainSettingsError, checkTrainSettings, type TrainSettings } from '../../src/train/settings.js';

/**
 * Checks one setting given by a flag with the Trainer's own rule, and words a failure with the
 * flag: `--max-length expected an integer >= 2, got 0` (not the setting's camelCase name).
 */
export function checkFlagSetting<K extends keyof TrainSettings>(flag: string, key: K, value: TrainSettings[K], given: string): void {
  try {
    checkTrainSettings({ [key]: value });
  } catch (e) {
    if (!(e instanceof TrainSettingsError)) throw e;
    const generic = e.hint?.startsWith('docs/TRAINING.md');
    throw new RadgradError(`--${flag} expected ${e.expected}, got ${given}`, { hint: generic ? `see \`radgrad train --help\` (docs/TRAINING.md lists every setting)` : e.hint! });
  }
}

/** --model: an existing folder with config.json; returns that config (read before any data, for the positions). */
export function checkModelDir(dir: string): BioGptConfig {
  const hint = 'pass a Hugging Face BioGPT folder (config.json + model.safetensors or pytorch_model.bin), e.g. radgrad-demo/base from `radgrad demo`';
  if (!fs.existsSync(dir)) throw new RadgradError(`--model ${dir}: no such folder`, { hint });
  if (!fs.statSync(dir).isDirectory()) throw new RadgradError(`--model ${dir}: is a file, not a folder`, { hint });
  if (!fs.existsSync(path.join(dir, 'config.json'))) throw new RadgradError(`--model ${dir}: no config.json (not a Hugging Face model folder)`, { hint });
  return loadBioGptConfig(dir);
}

/** What checkpoint-* folders `dir` holds, as a clause: "--out runs/x holds checkpoint-2, checkpoint-4". */
function holding(label: string, dir: string): { text: string; newest?: string } {
  if (!fs.existsSync(dir)) return { text: `${label} ${dir} does not exist` };
  const found = listCheckpoints(dir);
  if (!found.length) return { text: `${label} ${dir} holds no checkpoint-* folders` };
  return { text: `${label} ${dir} holds ${found.join(', ')}`, newest: path.join(dir, found[found.length - 1]!) };
}

/**
 * --resume: an existing checkpoint folder with trainer_state.json. Otherwise the error lists the
 * checkpoint-* folders found in --out (and in the --resume path's parent, when that is another
 * folder), or says there are none.
 */
export function checkResumeDir(resume: string, outDir: string): void {
  let problem: string | undefined;
  if (!fs.existsSync(resume)) problem = 'no such checkpoint folder';
  else if (!fs.statSync(resume).isDirectory()) problem = 'is a file, not a checkpoint folder';
  else if (!fs.existsSync(path.join(resume, TRAINER_STATE))) problem = `not a radgrad training checkpoint (no ${TRAINER_STATE}; an adapter/ folder cannot be resumed)`;
  if (!problem) return;
  const places = [holding('--out', outDir)];
  const parent = path.dirname(path.resolve(resume));
  if (parent !== path.resolve(outDir) && fs.existsSync(parent)) places.push(holding('its folder', path.dirname(resume)));
  const newest = places.find((p) => p.newest)?.newest;
  throw new RadgradError(`--resume ${resume}: ${problem}; ${places.map((p) => p.text).join('; ')}`, {
    hint: newest
      ? `continue from a checkpoint-<step> folder, e.g. the newest: --resume ${newest}`
      : 'checkpoints are saved every --save-every steps, at the end and on Ctrl-C; with none, start the run again without --resume',
  });
}

/**
 * --max-length above the model's max_position_embeddings would stop the run at the first batch
 * holding a longer example. It is lowered to the positions with a notice, as transformers' run_clm
 * clamps block_size to the tokenizer's model_max_length ("Using block_size=..."). `source` says
 * where the value came from (the flag, --config or the default).
 */
export function fitMaxLength(maxLength: number, maxPositions: number, source: string): { maxLength: number; note?: string } {
  if (maxLength <= maxPositions) return { maxLength };
  return {
    maxLength: maxPositions,
    note: `note: ${source} ${maxLength} is more than the model's ${maxPositions} positions (max_position_embeddings in config.json); using --max-length ${maxPositions} (longer examples are truncated), as transformers clamps to model_max_length`,
  };
}

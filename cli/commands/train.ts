/**
 * `radgrad train`: LoRA fine-tuning of a BioGPT checkpoint on prompt/completion JSONL (the output
 * of `radgrad prep`). Settings come from defaults < --config <train.json> < flags. Ctrl-C saves a
 * checkpoint and exits with status 130 (so `train && merge` stops there); --resume <checkpoint>
 * continues the same run.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { RadgradError } from '../../src/errors.js';
import { gpu } from '../../src/gpu/device.js';
import { withBackend } from '../../src/backend/registry.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { checkAttnImplementation } from '../../src/models/biogpt/config.js';
import { quantizeInt8 } from '../../src/models/biogpt/quantize.js';
import { BioGptTokenizer } from '../../src/tokenizer/biogpt_tokenizer.js';
import { readJsonl } from '../../src/data/jsonl.js';
import { SftDataset, splitTrainEval, subjectOf } from '../../src/data/dataset.js';
import { DEFAULT_TRAIN_SETTINGS, Trainer, type TrainSettings } from '../../src/train/trainer.js';
import { TRAIN_SETTING_KEYS, checkTrainSettings, resolveTrainSettings } from '../../src/train/settings.js';
import { SCHEDULE_KINDS } from '../../src/train/schedule.js';
import { Progress } from '../../src/train/progress.js';
import { action, checkOutputFolder, startGpu } from '../run.js';
import { checkFlagSetting, checkModelDir, checkResumeDir, fitMaxLength } from './train_checks.js';

interface TrainFlags {
  model?: string;
  data?: string;
  evalData?: string;
  evalFraction?: string;
  out?: string;
  config?: string;
  tokenizer?: string;
  loraR?: string;
  loraAlpha?: string;
  loraDropout?: string;
  targetModules?: string;
  useRslora?: boolean;
  batchSize?: string;
  gradAccum?: string;
  epochs?: string;
  maxSteps?: string;
  lr?: string;
  warmupSteps?: string;
  warmupRatio?: string;
  schedule?: string;
  maxLength?: string;
  evalEvery?: string;
  saveEvery?: string;
  saveTotalLimit?: string;
  loadBestModelAtEnd?: boolean;
  seed?: string;
  int8?: boolean;
  fp16?: boolean;
  resume?: string;
  allowSettingChanges?: boolean;
  baseModelNameOrPath?: string;
  json?: boolean;
  gradientCheckpointing?: boolean;
  attnImplementation?: string;
  evalOnStart?: boolean;
}

/** Config-file keys: TrainSettings plus the paths. */
interface TrainFile extends Partial<TrainSettings> {
  model?: string;
  data?: string;
  evalData?: string;
  evalFraction?: number;
  out?: string;
  tokenizer?: string;
  int8?: boolean;
}

function num(flag: string, v: string, integer = false): number {
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new RadgradError(`--${flag}: expected ${integer ? 'an integer' : 'a number'}, got '${v}'`, { hint: 'see `radgrad train --help`' });
  return n;
}

const PATH_KEYS = ['model', 'data', 'evalData', 'out', 'tokenizer'] as const;

/**
 * Flags that give a setting a value, in the order they are checked; each is its setting's name in
 * kebab case (--lora-r sets loraR). int/num: a number (`given` in errors is the text as typed);
 * list: comma-separated; text: as is.
 */
type ValueFlag = { [K in keyof TrainFlags]-?: TrainFlags[K] extends string | undefined ? K : never }[keyof TrainFlags] & keyof TrainSettings;
const VALUE_FLAGS: ReadonlyArray<readonly [ValueFlag, 'int' | 'num' | 'list' | 'text']> = [
  ['loraR', 'int'], ['loraAlpha', 'num'], ['loraDropout', 'num'], ['targetModules', 'list'], ['batchSize', 'int'], ['gradAccum', 'int'],
  ['epochs', 'int'], ['maxSteps', 'int'], ['lr', 'num'], ['warmupSteps', 'int'], ['warmupRatio', 'num'], ['schedule', 'text'],
  ['maxLength', 'int'], ['evalEvery', 'int'], ['saveEvery', 'int'], ['saveTotalLimit', 'int'], ['seed', 'int'], ['baseModelNameOrPath', 'text'],
];
/** Flags that turn a setting on when given. */
const SWITCH_FLAGS = ['useRslora', 'loadBestModelAtEnd', 'gradientCheckpointing', 'evalOnStart'] as const;
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The --config file, every value checked (settings by type and range, paths as strings). */
function readConfig(file: string): TrainFile {
  if (!fs.existsSync(file)) throw new RadgradError(`--config ${file}: no such file`, { hint: 'pass a JSON file of settings, e.g. {"loraR": 16, "lr": 1e-4}' });
  let j: unknown;
  try {
    j = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    throw new RadgradError(`--config ${file}: not valid JSON: ${(e as Error).message}`, { hint: 'settings are a JSON object with camelCase keys' });
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new RadgradError(`--config ${file}: expected a JSON object, got ${Array.isArray(j) ? 'an array' : JSON.stringify(j)}`, { hint: 'settings are a JSON object with camelCase keys' });
  const known = new Set<string>([...TRAIN_SETTING_KEYS, ...PATH_KEYS, 'evalFraction', 'int8']);
  const bad = Object.keys(j).filter((k) => !known.has(k));
  if (bad.length) throw new RadgradError(`--config ${file}: unknown keys ${bad.join(', ')}`, { hint: `known keys: ${[...known].join(', ')}` });
  const { model: _m, data: _d, evalData: _e, evalFraction, out: _o, tokenizer: _t, int8, ...settings } = j as Record<string, unknown>;
  for (const k of PATH_KEYS) {
    const v = (j as Record<string, unknown>)[k];
    if (v !== undefined && (typeof v !== 'string' || !v)) throw new RadgradError(`--config ${file}: '${k}' expected a path string, got ${JSON.stringify(v)}`, { hint: 'paths are relative to the working directory' });
  }
  if (evalFraction !== undefined) checkEvalFraction(evalFraction, `--config ${file}: 'evalFraction'`);
  if (int8 !== undefined && typeof int8 !== 'boolean') throw new RadgradError(`--config ${file}: 'int8' expected true or false, got ${JSON.stringify(int8)}`, { hint: 'or pass --int8' });
  checkTrainSettings(settings, `--config ${file}`);
  return j as TrainFile;
}

function checkEvalFraction(v: unknown, where: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new RadgradError(`${where} expected a number in [0, 1), got ${JSON.stringify(v)}`, { hint: '0 holds nothing out; 0.05 holds out 5 % of the subjects' });
  return v;
}

export function register(program: Command): void {
  program
    .command('train')
    .description('LoRA fine-tune a BioGPT checkpoint on prompt/completion JSONL (PEFT-compatible adapter out)')
    .option('--model <dir>', 'Hugging Face BioGPT folder (config.json + model.safetensors)')
    .option('--data <file>', 'training JSONL ({id, prompt, completion} per line, e.g. from `radgrad prep`)')
    .option('--eval-data <file>', 'held-out JSONL (default: split --eval-fraction off --data)')
    .option('--eval-fraction <f>', 'fraction of --data held out when no --eval-data (default 0.05)')
    .option('--out <dir>', 'output folder: adapter/, checkpoint-<step>/, metrics.jsonl, report.html')
    .option('--config <file>', 'JSON file with settings (camelCase keys, e.g. {"loraR": 16, "lr": 1e-4}); flags override it')
    .option('--tokenizer <dir>', 'folder with vocab.json + merges.txt (default: --model)')
    .option('--lora-r <n>', `LoRA rank (default ${DEFAULT_TRAIN_SETTINGS.loraR})`)
    .option('--lora-alpha <n>', `LoRA alpha (default ${DEFAULT_TRAIN_SETTINGS.loraAlpha})`)
    .option('--lora-dropout <p>', `LoRA dropout (default ${DEFAULT_TRAIN_SETTINGS.loraDropout})`)
    .option('--target-modules <list>', 'comma-separated module names (default q_proj,v_proj), or all-linear: every Linear layer except the output head, as PEFT')
    .option('--use-rslora', 'rank-stabilised LoRA (PEFT use_rslora): scale the LoRA branch by alpha/sqrt(r) instead of alpha/r')
    .option('--batch-size <n>', `micro-batch size (default ${DEFAULT_TRAIN_SETTINGS.batchSize})`)
    .option('--grad-accum <n>', `gradient accumulation steps (default ${DEFAULT_TRAIN_SETTINGS.gradAccum})`)
    .option('--epochs <n>', `epochs (default ${DEFAULT_TRAIN_SETTINGS.epochs})`)
    .option('--max-steps <n>', 'stop after N optimizer steps (sets the schedule length)')
    .option('--lr <x>', `peak learning rate (default ${DEFAULT_TRAIN_SETTINGS.lr})`)
    .option('--warmup-steps <n>', 'linear warmup steps (default 0)')
    .option('--warmup-ratio <r>', 'warmup over ceil(r · total steps) when --warmup-steps is 0, as HF warmup_ratio (default 0)')
    .option('--schedule <name>', `learning-rate schedule, HF lr_scheduler_type names: ${SCHEDULE_KINDS.join(', ')} (default linear; constant has no warmup)`)
    .option('--max-length <n>', `truncate examples to N tokens (default ${DEFAULT_TRAIN_SETTINGS.maxLength}; lowered, with a note, to the model's max_position_embeddings when above it)`)
    .option('--eval-every <n>', `eval loss every N steps (default ${DEFAULT_TRAIN_SETTINGS.evalEvery}; 0 = end only)`)
    .option('--eval-on-start', 'evaluate once before training (the base model\'s held-out loss, recorded as step 0), as HF eval_on_start')
    .option('--save-every <n>', `checkpoint every N steps (default ${DEFAULT_TRAIN_SETTINGS.saveEvery}; 0 = end only)`)
    .option('--save-total-limit <n>', 'keep only the newest N checkpoint-* folders in --out, as HF save_total_limit (default 0 = keep all; the --resume checkpoint is never deleted)')
    .option('--load-best-model-at-end', 'as HF load_best_model_at_end (metric eval loss, lower is better): adapter/ is the checkpoint with the lowest eval loss, which --save-total-limit never deletes; needs eval data and --save-every a multiple of --eval-every')
    .option('--seed <n>', `seed for LoRA init, data order, dropout and the eval split (default ${DEFAULT_TRAIN_SETTINGS.seed})`)
    .option('--int8', 'int8 base weights (bitsandbytes-style 8-bit; LoRA stays float32)')
    .option('--fp16', 'fp16 mixed precision where the adapter has shader-f16 (default, as the seed): autocast (matmuls in f16; norms, softmax, loss and master weights f32) + dynamic loss scaling')
    .option('--no-fp16', 'pure float32, no loss scaling (as fast and as lean on CPU adapters such as lavapipe, without the f16 rounding)')
    .option('--gradient-checkpointing', 'recompute each decoder layer in backward instead of storing its activations (less GPU memory, slower steps)')
    .option('--attn-implementation <name>', "attention kernels, as transformers' attn_implementation: eager (composite ops) or flash (fused kernels, O(T) memory; sdpa maps to flash). Default: the model's config.json, else eager")
    .option('--base-model-name-or-path <id>', "base_model_name_or_path written into adapter_config.json, as PEFT writes the from_pretrained id (e.g. microsoft/biogpt); default: --model as given")
    .option('--resume <dir>', 'continue from a checkpoint-<step> folder of an earlier run (pass the same settings: a difference that matters stops with the list)')
    .option('--allow-setting-changes', 'with --resume: continue although settings differ from the checkpoint\'s run (each difference is printed)')
    .option('--json', 'print metrics as JSON lines and a JSON summary')
    .addHelpText(
      'after',
      '\nExample:\n  $ radgrad prep iu --csv ../shared/data/iu-xray/indiana_reports.csv --out data/iu.jsonl --keep-no-finding\n  $ radgrad train --model models/biogpt --data data/iu.jsonl --eval-fraction 0.05 --out runs/iu-lora\n' +
        '  $ radgrad train ... --out runs/iu-lora --resume runs/iu-lora/checkpoint-200   # after Ctrl-C (which exits with status 130)\n  $ radgrad merge --model models/biogpt --adapter runs/iu-lora/adapter --out models/biogpt-iu',
    )
    .action(
      action(async (f: TrainFlags, cmd: Command) => {
        const file = f.config ? readConfig(f.config) : {};
        const modelDir = f.model ?? file.model;
        const dataFile = f.data ?? file.data;
        const outDir = f.out ?? file.out;
        if (!modelDir || !dataFile || !outDir) throw new RadgradError('train needs --model, --data and --out', { hint: 'see `radgrad train --help` for an example' });
        const { model: _m, data: _d, evalData: _e, evalFraction: _f, out: _o, tokenizer: _t, int8: _i, ...fileSettings } = file;
        const settings: Partial<TrainSettings> = { ...fileSettings };
        // A flag's value is checked with the setting's rule and a failure names the flag.
        for (const [key, kind] of VALUE_FLAGS) {
          const raw = f[key];
          if (raw === undefined) continue;
          const flag = kebab(key);
          const v = kind === 'list' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : kind === 'text' ? raw : num(flag, raw, kind === 'int');
          checkFlagSetting(flag, key, v as TrainSettings[typeof key], kind === 'int' || kind === 'num' ? raw : JSON.stringify(raw));
          (settings as Record<string, unknown>)[key] = v;
        }
        for (const key of SWITCH_FLAGS) if (f[key]) settings[key] = true;
        if (f.fp16 !== undefined) settings.fp16 = f.fp16;
        if (f.attnImplementation !== undefined) {
          if (!['eager', 'flash', 'sdpa'].includes(f.attnImplementation)) {
            throw new RadgradError(`--attn-implementation must be eager, flash or sdpa, got ${JSON.stringify(f.attnImplementation)}`, { hint: 'flash runs the fused attention kernels, eager the composite ops' });
          }
          settings.attnImplementation = checkAttnImplementation(f.attnImplementation, '--attn-implementation');
        }
        // Every value (flags over --config over defaults) checked before any data or GPU work.
        const resolved = resolveTrainSettings(settings, 'train (flags and --config)');
        const seed = resolved.seed;
        const evalFraction = f.evalFraction !== undefined ? checkEvalFraction(num('eval-fraction', f.evalFraction), '--eval-fraction') : (file.evalFraction ?? 0.05);
        // Paths next, still before any work: --out, --model (its config.json: a --max-length above
        // its positions is lowered), --resume.
        checkOutputFolder(outDir);
        const modelConfig = checkModelDir(modelDir);
        if (f.resume) checkResumeDir(f.resume, outDir);
        const notes: string[] = [];
        const fit = fitMaxLength(resolved.maxLength, modelConfig.maxPositionEmbeddings,
          f.maxLength !== undefined ? '--max-length' : file.maxLength !== undefined ? `--config ${f.config} 'maxLength'` : 'the default --max-length');
        const maxLength = fit.maxLength;
        if (fit.note) {
          settings.maxLength = maxLength;
          notes.push(fit.note);
        }

        const tokDir = f.tokenizer ?? file.tokenizer ?? modelDir;
        const tok = BioGptTokenizer.fromDir(tokDir);
        let trainRecs = readJsonl(dataFile);
        const evalDataFile = f.evalData ?? file.evalData;
        let evalRecs = evalDataFile ? readJsonl(evalDataFile) : [];
        if (!evalDataFile) {
          if (evalFraction > 0) ({ train: trainRecs, eval: evalRecs } = splitTrainEval(trainRecs, { seed, evalFraction, groupOf: (r) => subjectOf(r.id) }));
        }
        const trainSet = SftDataset.fromRecords(trainRecs, tok, { maxLength });
        const evalSet = SftDataset.fromRecords(evalRecs, tok, { maxLength });
        if (resolved.loadBestModelAtEnd && !evalSet.length) {
          throw new RadgradError(`--load-best-model-at-end picks the checkpoint with the lowest eval loss, but the eval set is empty (${evalDataFile ? `--eval-data ${evalDataFile} has no usable examples` : `--eval-fraction ${evalFraction} held out nothing`})`, {
            hint: 'pass --eval-data <file> or an --eval-fraction above 0 (default 0.05), or drop --load-best-model-at-end',
          });
        }

        const be = await startGpu(cmd);
        notes.forEach((n) => new Progress(0).log(n)); // stderr, with --json too
        await withBackend(be, async () => {
          const model = BioGptForCausalLM.fromPretrained(modelDir, { trainable: false });
          if (tok.vocabSize > model.config.vocabSize) {
            throw new RadgradError(`tokenizer ${tokDir} has ${tok.vocabSize} tokens, the model ${model.config.vocabSize}`, { hint: 'pass the tokenizer of this model with --tokenizer' });
          }
          if (f.int8 ?? file.int8) quantizeInt8(model);
          const ac = new AbortController();
          const onSigint = () => {
            process.stderr.write('\ninterrupt: finishing the current step and saving a checkpoint (Ctrl-C again to abort)\n');
            ac.abort();
            process.once('SIGINT', () => process.exit(130));
          };
          process.once('SIGINT', onSigint);
          try {
            const trainer = new Trainer({
              model, train: trainSet.examples, eval: evalSet.examples, outDir, settings, signal: ac.signal,
              f16Available: gpu().caps.f16,
              progress: f.json ? null : undefined,
              ...(f.resume ? { resume: f.resume, allowSettingChanges: !!f.allowSettingChanges } : {}),
              // The eval split is part of the run: a resume must hold out the same reports.
              dataSettings: evalDataFile ? { evalData: path.resolve(evalDataFile) } : { evalFraction },
              ...(f.json ? { onMetrics: (m) => process.stdout.write(JSON.stringify(m) + '\n') } : {}),
              reportSettings: { model: modelDir, data: dataFile, trainExamples: trainSet.length, evalExamples: evalSet.length, int8: !!(f.int8 ?? file.int8) },
            });
            if (!f.json) new Progress(0).log(`train ${trainSet.length} examples (${trainSet.stats.truncated} truncated), eval ${evalSet.length}; ${trainer.totalSteps} steps`);
            const r = await trainer.run();
            const summary = {
              steps: r.steps, totalSteps: r.totalSteps, interrupted: r.interrupted, finalLoss: r.finalLoss, finalEvalLoss: r.finalEvalLoss,
              tokensPerSec: Math.round(r.tokensPerSec), adapter: r.interrupted ? null : r.adapterDir, checkpoint: r.lastCheckpoint ?? null,
              report: path.join(outDir, 'report.html'), trainable: r.trainableLine, lossScaling: r.lossScaling, precision: r.precision,
              ...(resolved.loadBestModelAtEnd ? { bestCheckpoint: r.best?.checkpoint ?? null, bestEvalLoss: r.best?.metric ?? null, bestStep: r.best?.step ?? null } : {}),
            };
            if (f.json) process.stdout.write(JSON.stringify({ summary }) + '\n');
            else {
              const show = (k: string, v: unknown) => (k === 'adapter' && v && r.best ? `${String(v)} (the best checkpoint's: ${r.best.checkpoint})` : v ?? '-');
              process.stdout.write(Object.entries(summary).map(([k, v]) => `${k.padEnd(14)} ${show(k, v)}`).join('\n') + '\n');
            }
            // Interrupted (Ctrl-C): the checkpoint is saved, but the run did not finish, so exit as a
            // shell does on SIGINT (128 + 2) and `radgrad train ... && radgrad merge ...` stops here.
            if (r.interrupted) {
              process.stderr.write(`interrupted: exit status 130; continue with --resume ${r.lastCheckpoint ?? '<checkpoint>'}\n`);
              process.exitCode = 130;
            }
          } finally {
            process.removeListener('SIGINT', onSigint);
            model.dispose();
          }
        });
      }),
    );
}

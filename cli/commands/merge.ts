/**
 * `radgrad merge`: folds a PEFT LoRA adapter into its base BioGPT and writes a plain HF checkpoint
 * in the base checkpoint's dtype (as PEFT's merge_and_unload + save_pretrained), or --dtype.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { RadgradError } from '../../src/errors.js';
import { withBackend } from '../../src/backend/registry.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { loadAdapter, mergeAndUnload, saveMergedCheckpoint } from '../../src/nn/lora.js';
import { saveDtypeFromTorchName, torchDtypeName, type DType, type SaveDType } from '../../src/io/dtype.js';
import { action, checkOutputDir, samePath, startGpu } from '../run.js';

/** Tokenizer and generation files copied beside the merged weights when the base has them. */
const SIDE_FILES = ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json'];

const DTYPE_FLAG = ['float32', 'float16', 'bfloat16'];

/** --dtype, checked before any work. */
function parseDtypeFlag(v: string): SaveDType {
  if (!DTYPE_FLAG.includes(v)) throw new RadgradError(`--dtype must be float32, float16 or bfloat16, got ${JSON.stringify(v)}`, { hint: 'leave it out to keep the base checkpoint\'s dtype' });
  return saveDtypeFromTorchName(v)!;
}

/**
 * The dtype the merged weights are written in: the one the base checkpoint stores its weights in,
 * else (f64, say) config.json's torch_dtype / dtype when it names f32/f16/bf16, else float32.
 */
export function baseDtype(stored: DType | undefined, configDtype: string | undefined): { dtype: SaveDType; from: string } {
  if (stored === 'f32' || stored === 'f16' || stored === 'bf16') return { dtype: stored, from: 'the base weights' };
  const c = configDtype !== undefined ? saveDtypeFromTorchName(configDtype) : undefined;
  if (c) return { dtype: c, from: 'the base config.json' };
  return { dtype: 'f32', from: `the default (the base weights are ${stored ?? 'unknown'})` };
}

export function register(program: Command): void {
  program
    .command('merge')
    .description('merge a LoRA adapter into its base model (W += alpha/r · B·A) and save model.safetensors + config.json')
    .requiredOption('--model <dir>', 'base BioGPT folder')
    .requiredOption('--adapter <dir>', 'PEFT adapter folder (adapter_config.json + adapter_model.safetensors)')
    .requiredOption('--out <dir>', 'output folder for the merged checkpoint (must be new or empty unless --force)')
    .option('--dtype <name>', "dtype of the merged weights: float32, float16 or bfloat16 (default: the base checkpoint's, as PEFT's merge_and_unload + save_pretrained)")
    .option('--force', 'write into a non-empty --out: model.safetensors, config.json and tokenizer files are replaced, other files kept')
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', '\nExample:\n  $ radgrad merge --model models/biogpt --adapter runs/iu-lora/adapter --out models/biogpt-iu')
    .action(
      action(async (o: { model: string; adapter: string; out: string; dtype?: string; force?: boolean; json?: boolean }, cmd: Command) => {
        const adapterDir = o.adapter;
        const wanted = o.dtype !== undefined ? parseDtypeFlag(o.dtype) : undefined;
        if (samePath(o.out, o.model)) throw new RadgradError('--out must differ from --model', { hint: 'merging never overwrites the base model' });
        if (samePath(o.out, adapterDir)) throw new RadgradError('--out must differ from --adapter', { hint: 'the merged model goes to a folder of its own, e.g. --out models/biogpt-merged' });
        checkOutputDir(o.out, { force: !!o.force, writes: `model.safetensors, config.json and the base's ${SIDE_FILES.join(', ')}` });
        const be = await startGpu(cmd);
        await withBackend(be, async () => {
          const model = BioGptForCausalLM.fromPretrained(o.model, { trainable: false });
          try {
            const cfg = loadAdapter(model, adapterDir, { dropout: 0 });
            mergeAndUnload(model);
            const { dtype, from } = wanted ? { dtype: wanted, from: '--dtype' } : baseDtype(model.loadReport?.dtype, model.config.dtype);
            await saveMergedCheckpoint(model, o.out, model.config.raw, { dtype });
            for (const f of SIDE_FILES) {
              const src = path.join(o.model, f);
              if (fs.existsSync(src)) fs.copyFileSync(src, path.join(o.out, f));
            }
            const summary = { out: o.out, r: cfg.r, alpha: cfg.alpha, targetModules: cfg.targetModules, parameters: model.numParameters(), dtype: torchDtypeName(dtype), dtypeFrom: from };
            process.stdout.write(o.json ? JSON.stringify(summary) + '\n' : `merged r=${cfg.r} alpha=${cfg.alpha} into ${o.out} (${summary.parameters.toLocaleString('en-US')} parameters, ${summary.dtype} as ${from})\n`);
          } finally {
            model.dispose();
          }
        });
      }),
    );
}

/**
 * `radgrad pretrain`: builds a fresh BioGPT-architecture model of a chosen size (any BioGPT-format
 * tokenizer) and trains all of its weights (full fine-tuning, AdamW, causal-LM loss over the whole
 * text) on prompt/completion JSONL, then writes a Hugging Face folder (config.json +
 * model.safetensors + the tokenizer files) that `radgrad train` can LoRA fine-tune. It exists so a
 * small base with some language knowledge can be made on this machine, where full BioGPT is too slow.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { RadgradError } from '../../src/errors.js';
import { withBackend } from '../../src/backend/registry.js';
import { BioGptForCausalLM, biogptConfig } from '../../src/models/biogpt/index.js';
import { BioGptTokenizer } from '../../src/tokenizer/biogpt_tokenizer.js';
import { readJsonl } from '../../src/data/jsonl.js';
import { SftDataset } from '../../src/data/dataset.js';
import { manualSeed } from '../../src/nn/module.js';
import { saveMergedCheckpoint } from '../../src/nn/lora.js';
import { pretrainLoop } from '../../src/train/pretrain.js';
import { action, checkOutputDir, samePath, startGpu } from '../run.js';

interface PretrainFlags {
  tokenizer: string;
  data: string;
  out: string;
  hidden: string;
  layers: string;
  heads: string;
  ffn: string;
  maxPositions: string;
  steps: string;
  batchSize: string;
  maxLength: string;
  lr: string;
  warmupSteps: string;
  weightDecay: string;
  seed: string;
  logEvery: string;
  force?: boolean;
}

function int(flag: string, v: string, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new RadgradError(`--${flag}: expected an integer >= ${min}, got '${v}'`);
  return n;
}

function real(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new RadgradError(`--${flag}: expected a non-negative number, got '${v}'`);
  return n;
}

export function register(program: Command): void {
  program
    .command('pretrain')
    .description('build a small BioGPT-architecture model and train all its weights on JSONL text (a base for `radgrad train`)')
    .requiredOption('--tokenizer <dir>', 'folder with BioGPT-format vocab.json + merges.txt (sets the vocabulary size)')
    .requiredOption('--data <file>', 'JSONL of {prompt, completion} (e.g. `radgrad prep mimic`); the whole text is learned')
    .requiredOption('--out <dir>', 'output Hugging Face folder: config.json, model.safetensors, vocab.json, merges.txt (must be new or empty unless --force)')
    .option('--force', 'write into a non-empty --out: those four files are replaced, other files kept')
    .option('--hidden <n>', 'hidden size', '256')
    .option('--layers <n>', 'decoder layers', '4')
    .option('--heads <n>', 'attention heads', '4')
    .option('--ffn <n>', 'feed-forward (intermediate) size', '1024')
    .option('--max-positions <n>', 'position embeddings', '1024')
    .option('--steps <n>', 'optimizer steps', '200')
    .option('--batch-size <n>', 'examples per step', '8')
    .option('--max-length <n>', 'truncate examples to N tokens', '128')
    .option('--lr <x>', 'peak learning rate (linear warmup from 0, then linear decay to 0, as HF\'s linear schedule)', '1e-3')
    .option('--warmup-steps <n>', 'warmup steps', '10')
    .option('--weight-decay <x>', 'AdamW weight decay (not on biases and LayerNorm weights, as the HF Trainer)', '0.01')
    .option('--seed <n>', 'seed for the weights and the data order', '7')
    .option('--log-every <n>', 'print the loss every N steps', '10')
    .addHelpText(
      'after',
      '\nExample:\n  $ radgrad synth mimic --out data/synth --studies 3000 --seed 1\n' +
        '  $ radgrad prep mimic --chexpert data/synth/mimic-cxr-2.0.0-chexpert.csv.gz --reports data/synth --out data/synth.jsonl\n' +
        '  $ radgrad pretrain --tokenizer ../shared/data/biogpt-vocab --data data/synth.jsonl --out models/small-biogpt --steps 200',
    )
    .action(
      action(async (f: PretrainFlags, cmd: Command) => {
        const hidden = int('hidden', f.hidden);
        const heads = int('heads', f.heads);
        if (hidden % heads) throw new RadgradError(`--hidden ${hidden} must be a multiple of --heads ${heads}`);
        const steps = int('steps', f.steps);
        const bs = int('batch-size', f.batchSize);
        const maxLength = int('max-length', f.maxLength, 2);
        const maxPositions = int('max-positions', f.maxPositions, 2);
        if (maxLength > maxPositions) throw new RadgradError(`--max-length ${maxLength} exceeds --max-positions ${maxPositions}`);
        const lr = real('lr', f.lr);
        const warmup = int('warmup-steps', f.warmupSteps, 0);
        const seed = int('seed', f.seed, 0);
        const logEvery = int('log-every', f.logEvery);
        const weightDecay = real('weight-decay', f.weightDecay);
        if (samePath(f.out, f.tokenizer)) throw new RadgradError('--out must differ from --tokenizer', { hint: 'the tokenizer files are copied into --out; pass a new folder, e.g. --out models/small-biogpt' });
        checkOutputDir(f.out, { force: !!f.force, writes: 'config.json, model.safetensors, vocab.json and merges.txt' });
        const tok = BioGptTokenizer.fromDir(f.tokenizer);
        const recs = readJsonl(f.data);
        const examples = SftDataset.fromRecords(recs, tok, { maxLength }).examples;
        if (!examples.length) throw new RadgradError(`--data ${f.data}: no examples`);
        const cfgJson = {
          architectures: ['BioGptForCausalLM'], model_type: 'biogpt', vocab_size: tok.vocabSize, hidden_size: hidden, num_hidden_layers: int('layers', f.layers),
          num_attention_heads: heads, intermediate_size: int('ffn', f.ffn), max_position_embeddings: maxPositions, hidden_act: 'gelu',
          hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, activation_dropout: 0.0, layerdrop: 0.0, initializer_range: 0.02,
          layer_norm_eps: 1e-12, scale_embedding: true, tie_word_embeddings: true, use_cache: true, bos_token_id: 0, pad_token_id: 1, eos_token_id: 2,
        };
        const be = await startGpu(cmd);
        await withBackend(be, async () => {
          manualSeed(seed);
          // Trained without dropout (a short run on a small corpus underfits, it does not overfit);
          // config.json keeps BioGPT's 0.1 so LoRA fine-tuning sees the usual architecture.
          const model = new BioGptForCausalLM(biogptConfig({ ...cfgJson, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 })).train();
          const nParams = model.parameters().reduce((s, p) => s + p.size, 0);
          console.log(`pretrain: ${examples.length} examples, ${nParams.toLocaleString('en-US')} parameters, ${steps} steps of ${bs}`);
          const t0 = performance.now();
          let tokens = 0;
          try {
            // The Trainer's conventions: no decay on biases / LayerNorm weights, HF's warmup, clip 1.0,
            // non-finite steps skipped and, 25 in a row, NonFiniteGradientError (no model written).
            const { skipped } = await pretrainLoop(model, examples, {
              steps, batchSize: bs, maxLength, lr, warmupSteps: warmup, weightDecay, seed,
              onStep: (s) => {
                tokens += s.tokens;
                if (s.skipped) console.log(`step ${s.step}: non-finite gradient norm (NaN/inf), step skipped (weights unchanged)`);
                if (s.step % logEvery === 0 || s.step === 1 || s.step === steps) {
                  const sec = (performance.now() - t0) / 1000;
                  console.log(`step ${s.step}/${steps}  loss ${s.loss.toFixed(4)}  lr ${s.lr.toExponential(2)}  ${Math.round(tokens / sec)} tokens/s  ${sec.toFixed(0)} s`);
                }
              },
            });
            if (skipped) console.log(`${skipped} of ${steps} steps skipped (non-finite gradients)`);
            await saveMergedCheckpoint(model, f.out, cfgJson);
          } finally {
            model.dispose();
          }
          for (const name of ['vocab.json', 'merges.txt']) fs.copyFileSync(path.join(f.tokenizer, name), path.join(f.out, name));
          console.log(`wrote ${f.out}`);
        });
      }),
    );
}

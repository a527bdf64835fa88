/**
 * `radgrad demo`: the whole pipeline on synthetic data with nothing downloaded — synthesize a
 * MIMIC-CXR tree, prep it, train a BPE vocabulary, build a small BioGPT and pre-train it on the
 * reports' text without their labels, LoRA fine-tune it on an int8 base to write the report a label
 * prompt asks for, then write reports for label combinations it never saw and score their label
 * consistency with the CheXpert labeler. The held-out loss before/after LoRA is measured on those
 * unseen label combinations (completion tokens only).
 */
import fs from 'node:fs';
import path from 'node:path';
import { synthMimic, prepMimic, SftDataset, writeJsonlAtomic, writeTextAtomic, type ReportRecord, type Example } from '../data/index.js';
import { BioGptTokenizer } from '../tokenizer/index.js';
import { BioGptForCausalLM, biogptConfig } from '../models/biogpt/index.js';
import { manualSeed } from '../nn/module.js';
import { saveMergedCheckpoint } from '../nn/lora.js';
import '../ops/index.js';
import { Trainer } from '../train/trainer.js';
import { pretrainLoop } from '../train/pretrain.js';
import { generateText } from '../generate/index.js';
import { quantizeInt8 } from '../models/biogpt/quantize.js';
import { labelAgreement, parsePromptLabels, corpusBleu, rougeL } from '../eval/index.js';

export interface DemoOptions {
  out: string;
  quick?: boolean;
  log?: (line: string) => void;
}

export interface DemoResult {
  out: string;
  seconds: number;
  lossBefore: number;
  lossAfter: number;
  pretrainLoss: [number, number];
  int8: boolean;
  microF1: number;
  macroF1: number;
  paths: Record<string, string>;
}

const SIZES = {
  quick: { studies: 400, merges: 400, hidden: 64, layers: 2, heads: 4, ffn: 128, maxLen: 96, pretrainSteps: 100, pretrainLr: 1e-2, loraSteps: 30, evalN: 8, maxNew: 32 },
  full: { studies: 2000, merges: 1200, hidden: 128, layers: 2, heads: 4, ffn: 512, maxLen: 128, pretrainSteps: 200, pretrainLr: 5e-3, loraSteps: 150, evalN: 16, maxNew: 64 },
};

/** Where the demo writes each output under `out` (the paths the --help examples refer to). */
export function demoPaths(out: string) {
  return {
    synth: path.join(out, 'data', 'mimic-synth'), data: path.join(out, 'data', 'reports.jsonl'), tokenizer: path.join(out, 'tokenizer'),
    base: path.join(out, 'base'), lora: path.join(out, 'lora'), adapter: path.join(out, 'lora', 'adapter'), report: path.join(out, 'lora', 'report.html'),
    samples: path.join(out, 'samples.jsonl'), metrics: path.join(out, 'metrics.json'),
  };
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const S = o.quick ? SIZES.quick : SIZES.full;
  const t0 = performance.now();
  const at = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
  const out = path.resolve(o.out);
  fs.mkdirSync(out, { recursive: true });
  const p = demoPaths(out);

  // 1. Data: synthetic MIMIC-CXR tree → prompt/completion JSONL.
  const m = synthMimic({ out: p.synth, studies: S.studies, seed: 7, force: true });
  const prep = await prepMimic({ chexpertCsv: path.join(p.synth, m.csv), reportsDir: p.synth, out: p.data });
  const records = prep.records as ReportRecord[];
  log(`[${at()}] data: ${m.studies} synthetic studies -> ${records.length} prompt/completion records (${p.data})`);
  // Hold out whole label combinations so the final prompts are unseen.
  const combos = [...new Set(records.map((r) => r.prompt))].sort();
  const held = new Set(combos.filter((_, i) => i % 5 === 2));
  const trainRecs = records.filter((r) => !held.has(r.prompt));
  const testRecs = records.filter((r) => held.has(r.prompt));

  // 2. Tokenizer: BPE learned on the training reports, in BioGPT's vocab.json + merges.txt layout.
  const { trainBpe, writeBpeFiles } = await import('./bpe_train.js');
  const bpe = trainBpe(trainRecs.map((r) => `${r.prompt}\n${r.completion}`), S.merges);
  writeBpeFiles(p.tokenizer, bpe);
  const tok = BioGptTokenizer.fromDir(p.tokenizer);
  log(`[${at()}] tokenizer: ${bpe.vocab.size} tokens, ${bpe.merges.length} merges (${p.tokenizer})`);
  const ds = SftDataset.fromRecords(trainRecs, tok, { maxLength: S.maxLen });
  const dsTest = SftDataset.fromRecords(testRecs, tok, { maxLength: S.maxLen });
  const train = ds.examples as readonly Example[];
  // The base model learns the reports' language without their labels (every prompt is just
  // "Findings:"); the LoRA stage then teaches it to write the report a label prompt asks for, so
  // base vs LoRA on the held-out label combinations measures what the adapter learned.
  const unlabeled = SftDataset.fromRecords(trainRecs.map((r) => ({ ...r, prompt: 'Findings:' })), tok, { maxLength: S.maxLen }).examples as readonly Example[];
  const evalSet = (dsTest.examples as readonly Example[]).slice(0, o.quick ? 16 : 32);

  // 3. A small BioGPT, pre-trained (full fine-tuning) on the training reports' text alone, with
  //    `radgrad pretrain`'s loop: AdamW without decay on biases/LayerNorm weights, HF's linear warmup.
  const cfgJson = {
    architectures: ['BioGptForCausalLM'], model_type: 'biogpt', vocab_size: bpe.vocab.size, hidden_size: S.hidden, num_hidden_layers: S.layers,
    num_attention_heads: S.heads, intermediate_size: S.ffn, max_position_embeddings: S.maxLen + S.maxNew + 32, hidden_act: 'gelu',
    hidden_dropout_prob: 0.0, attention_probs_dropout_prob: 0.0, activation_dropout: 0.0, layerdrop: 0.0, initializer_range: 0.02,
    layer_norm_eps: 1e-12, scale_embedding: true, tie_word_embeddings: true, use_cache: true, bos_token_id: 0, pad_token_id: 1, eos_token_id: 2,
  };
  manualSeed(7);
  const base = new BioGptForCausalLM(biogptConfig(cfgJson)).train();
  let first = NaN;
  let last = NaN; // an EMA of the step losses (one batch of 8 is noisy)
  // Pre-training learns the whole text (prompt included); skipped (non-finite) steps are not averaged in.
  await pretrainLoop(base, unlabeled, {
    steps: S.pretrainSteps, batchSize: 8, maxLength: S.maxLen, lr: S.pretrainLr, warmupSteps: 10, weightDecay: 0.01, seed: 7, maxGradNorm: 1.0,
    onStep: (s) => {
      if (s.step === 1) first = s.loss;
      if (!s.skipped) last = Number.isNaN(last) ? s.loss : 0.9 * last + 0.1 * s.loss;
      if (s.step % Math.max(1, Math.floor(S.pretrainSteps / 5)) === 0) log(`[${at()}]   pre-train step ${s.step}/${S.pretrainSteps}: loss ${s.loss.toFixed(3)}`);
    },
  });
  await saveMergedCheckpoint(base, p.base, cfgJson);
  base.dispose();
  for (const f of ['vocab.json', 'merges.txt']) fs.copyFileSync(path.join(p.tokenizer, f), path.join(p.base, f));
  log(`[${at()}] base model: hidden ${S.hidden}, ${S.layers} layers, ${S.heads} heads; pre-train loss ${first.toFixed(3)} -> ${last.toFixed(3)} (${p.base})`);

  // 4. LoRA on the int8 base (the seed recipe, scaled down; every attention and MLP projection is
  //    adapted so a few dozen steps suffice to teach label conditioning).
  const model = BioGptForCausalLM.fromPretrained(p.base);
  let int8 = true;
  try {
    quantizeInt8(model);
  } catch (e) {
    int8 = false;
    log(`[${at()}] int8 base unavailable (${(e as Error).message}); LoRA runs on the float32 base`);
  }
  const trainer = new Trainer({
    model, train, eval: evalSet, outDir: p.lora, progress: null,
    settings: {
      loraR: 8, loraAlpha: 16, loraDropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'], batchSize: 8, gradAccum: 1,
      maxSteps: S.loraSteps, lr: 1e-2, schedule: 'linear', warmupSteps: 3, maxGradNorm: 1.0, maxLength: S.maxLen, evalEvery: 0, saveEvery: 0, seed: 7, fp16: false, logEvery: 1000,
    },
    reportSettings: { demo: true, base: p.base, data: p.data, int8 },
  });
  const lossBefore = (await trainer.evaluate(evalSet)) ?? NaN;
  const res = await trainer.run();
  const lossAfter = res.finalEvalLoss ?? (await trainer.evaluate(evalSet)) ?? NaN;
  log(`[${at()}] LoRA (${int8 ? 'int8' : 'float32'} base, ${res.steps} steps, ${res.trainableLine}): held-out loss ${lossBefore.toFixed(3)} -> ${lossAfter.toFixed(3)} (${p.adapter})`);

  // 5. Reports for unseen label combinations, scored for label consistency.
  model.eval();
  const prompts = [...held].slice(0, S.evalN);
  const gens: Array<{ prompt: string; text: string }> = [];
  for (let i = 0; i < prompts.length; i += 8) {
    const { outputs } = await generateText(model, tok, prompts.slice(i, i + 8), { maxNewTokens: S.maxNew, repetitionPenalty: 1.1, noRepeatNgramSize: 4 });
    for (const g of outputs) gens.push({ prompt: g.prompt, text: g.text });
  }
  model.dispose();
  const pairs = gens.map((g) => ({ promptLabels: parsePromptLabels(g.prompt), reportText: g.text }));
  const lm = labelAgreement(pairs);
  const refs = prompts.map((pr) => testRecs.find((r) => r.prompt === pr)!.completion);
  const bleu = corpusBleu(gens.map((g) => g.text), refs.map((r) => [r]));
  const rouge = rougeL(gens.map((g) => g.text), refs);
  writeTextAtomic(p.samples, gens.map((g, i) => JSON.stringify({ prompt: g.prompt, generated: g.text, reference: refs[i] })).join('\n') + '\n');
  const metrics = {
    lossBefore, lossAfter, pretrainLoss: [first, last], int8, bleu4: bleu.bleu, rougeL: { precision: rouge.precision, recall: rouge.recall, f: rouge.f },
    labelConsistency: { micro: lm.micro, macro: lm.macro, perLabel: lm.perLabel }, seconds: (performance.now() - t0) / 1000,
  };
  writeTextAtomic(p.metrics, JSON.stringify(metrics, null, 2) + '\n');
  void writeJsonlAtomic;
  log(`[${at()}] generated ${gens.length} reports for unseen label combinations, e.g.\n    ${gens[0]?.prompt.replace(/\n/g, '\\n')}\n    -> ${gens[0]?.text}`);
  log(`label consistency (CheXpert labeler vs prompt labels): micro F1 ${lm.micro.f1.toFixed(3)}, macro F1 ${lm.macro.f1.toFixed(3)}`);
  log(`loss before -> after LoRA: ${lossBefore.toFixed(3)} -> ${lossAfter.toFixed(3)}${int8 ? '' : ' (float32 base: int8 unavailable)'}`);
  log(['outputs:', `  data       ${p.data} (synthetic tree: ${p.synth})`, `  tokenizer  ${p.tokenizer}`, `  base model ${p.base}`, `  adapter    ${p.adapter}`,
    `  report     ${p.report}`, `  samples    ${p.samples}`, `  metrics    ${p.metrics}`].join('\n'));
  return { out, seconds: (performance.now() - t0) / 1000, lossBefore, lossAfter, pretrainLoss: [first, last], int8, microF1: lm.micro.f1, macroF1: lm.macro.f1, paths: p };
}

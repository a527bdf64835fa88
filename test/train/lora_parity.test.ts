/**
 * LoRA parity with PEFT 0.21 + torch 2.11 (shared/golden/golden_tiny.*): the tiny BioGPT with the
 * adapter tiny_lora_init/ (r 8, alpha 16, dropout 0, q_proj/v_proj, non-zero B), on WebGPU:
 * print_trainable_parameters byte for byte, the loss and pre-clip grad norm of three AdamW steps
 * (lr 2e-4, betas 0.9/0.999, eps 1e-8, wd 0, clip_grad_norm_(1.0)), the LoRA gradients of step 1,
 * the weights after each step, the saved adapter against tiny_lora_trained/ and the logits after
 * merge_and_unload().
 *
 * Error measure: rel = max|got - want| / max|want| per tensor. Tolerances (float32 golden): loss and
 * grad norm 1e-5, gradients 1e-3, weights 1e-5 (one Adam step moves a weight by ~lr = 2e-4, so a
 * wrong update shows at 1e-3 of the weight scale), merged logits 1e-4.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { backward, noGrad } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import '../../src/ops/index.js';
import { AdamW, clipGradNorm } from '../../src/ops/optim.js';
import { SafetensorsReader, readSafetensors } from '../../src/io/safetensors.js';
import { toFloat32 } from '../../src/io/dtype.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { loadAdapter, loraModules, mergeAndUnload, saveAdapter, saveMergedCheckpoint, trainableParametersLine } from '../../src/nn/lora.js';
import { sharedPath } from '../../src/util/paths.js';
import { maxRelErr } from '../helpers/compare.js';

const modelDir = sharedPath('golden', 'tiny_biogpt');
const initDir = sharedPath('golden', 'tiny_lora_init');
const trainedDir = sharedPath('golden', 'tiny_lora_trained');
const goldenFile = sharedPath('golden', 'golden_tiny.safetensors');
const goldenJson = sharedPath('golden', 'golden_tiny.json');
const SKIP = !modelDir || !initDir || !trainedDir || !goldenFile || !goldenJson ? 'shared/golden (tiny_biogpt, tiny_lora_*, golden_tiny.*) is absent' : false;

const TOL = { loss: 1e-5, norm: 1e-5, grad: 1e-3, weight: 1e-5, logits: 1e-4, saved: 1e-5 };

/** Our parameter path → the golden's in-memory PEFT name (adapter name "default"). */
const goldenName = (p: string) => `base_model.model.${p.replace(/\.weight$/, '.default.weight')}`;

interface GoldenJson {
  print_trainable_parameters: string;
  lora_steps: Array<{ loss: number; grad_norm: number }>;
}

let gpu: Backend;
let reader: SafetensorsReader;
let gj: GoldenJson;
const shape = [2, 12] as const;

before(async () => {
  if (SKIP) return;
  reader = SafetensorsReader.open(goldenFile!);
  gj = JSON.parse(fs.readFileSync(goldenJson!, 'utf8')) as GoldenJson;
  gpu = await initWebGpuBackend();
});
after(async () => {
  reader?.close();
  await shutdownGpu();
});

describe('LoRA parity with PEFT (tiny BioGPT, WebGPU)', { skip: SKIP }, () => {
  it('matches loss, gradients, grad norms, AdamW steps, saved adapter and merged logits', async () => {
    const errs: Record<string, number> = {};
    const bump = (k: string, e: number) => (errs[k] = Math.max(errs[k] ?? 0, e));
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-lora-'));
    await withBackend(gpu, async () => {
      const model = BioGptForCausalLM.fromPretrained(modelDir!);
      try {
        loadAdapter(model, initDir!);
        assert.equal(trainableParametersLine(model), gj.print_trainable_parameters);
        const lora = [...loraModules(model)].flatMap(([p, l]) => [[`${p}.lora_A.weight`, l.lora_A.weight], [`${p}.lora_B.weight`, l.lora_B.weight]] as const);
        assert.equal(lora.length, 8);
        const params = model.trainableParameters();
        assert.equal(params.length, 8, 'only LoRA matrices train');
        const opt = new AdamW(params, { lr: 2e-4, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
        const input = {
          inputIds: { data: reader.readF32('input_ids'), shape },
          attentionMask: { data: reader.readF32('attention_mask'), shape },
          labels: { data: reader.readF32('labels'), shape },
        };
        for (let step = 1; step <= 3; step++) {
          const loss = tidy(() => {
            const l = model.forward(input).loss!;
            backward(l);
            return l;
          });
          const lv = await loss.item();
          loss.dispose();
          const want = gj.lora_steps[step - 1]!;
          bump('loss', Math.abs(lv - want.loss) / Math.abs(want.loss));
          if (step === 1) {
            for (const [n, p] of lora) {
              assert.ok(p.grad, `${n} has a gradient`);
              bump('lora_grad', maxRelErr(await p.grad.data(), reader.readF32(`lora_grad.${goldenName(n)}`)));
            }
          }
          const norm = await clipGradNorm(params, 1.0);
          bump('grad_norm', Math.abs(norm - want.grad_norm) / want.grad_norm);
          opt.step();
          opt.zeroGrad();
          for (const [n, p] of lora) bump(`after_step${step}`, maxRelErr(await p.data(), reader.readF32(`lora_after_step${step}.${goldenName(n)}`)));
        }

        // The saved adapter equals PEFT's after the same three steps.
        const saved = path.join(tmp, 'adapter');
        await saveAdapter(model, saved);
        const ours = readSafetensors(path.join(saved, 'adapter_model.safetensors'));
        const theirs = readSafetensors(path.join(trainedDir!, 'adapter_model.safetensors'));
        assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
        assert.deepEqual(ours.metadata, theirs.metadata);
        for (const [k, t] of theirs.tensors) {
          const o = ours.tensors.get(k)!;
          assert.equal(o.dtype, t.dtype, k);
          assert.deepEqual(o.shape, t.shape, k);
          bump('saved_adapter', maxRelErr(toFloat32(o), toFloat32(t)));
        }
        const cfgOurs = JSON.parse(fs.readFileSync(path.join(saved, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
        const cfgTheirs = JSON.parse(fs.readFileSync(path.join(trainedDir!, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
        // target_modules is a Python set: order is arbitrary.
        const norm = (c: Record<string, unknown>) => ({ ...c, target_modules: [...(c.target_modules as string[])].sort() });
        assert.deepEqual(norm(cfgOurs), norm(cfgTheirs));

        // Merge and compare logits.
        mergeAndUnload(model);
        assert.equal(loraModules(model).size, 0);
        assert.ok(model.getParameter('biogpt.layers.0.self_attn.q_proj.weight'), 'HF names after unload');
        const logits = noGrad(() => model.forward({ inputIds: input.inputIds, attentionMask: input.attentionMask }).logits);
        errs.merged_logits = maxRelErr(await logits.data(), reader.readF32('merged_logits'));
        logits.dispose();

        // The merged checkpoint reloads as a plain model with the same logits.
        const mergedDir = path.join(tmp, 'merged');
        await saveMergedCheckpoint(model, mergedDir, model.config.raw);
        const re = BioGptForCausalLM.fromPretrained(mergedDir);
        try {
          const l2 = noGrad(() => re.forward({ inputIds: input.inputIds, attentionMask: input.attentionMask }).logits);
          errs.merged_reload_logits = maxRelErr(await l2.data(), reader.readF32('merged_logits'));
          l2.dispose();
        } finally {
          re.dispose();
        }
        opt.dispose();
      } finally {
        model.dispose();
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    });
    console.log('LoRA parity (rel = max|Δ|/max|want|):\n' + Object.entries(errs).map(([k, v]) => `  ${k}: ${v.toExponential(2)}`).join('\n'));
    assert.ok(errs.loss! <= TOL.loss, `loss ${errs.loss}`);
    assert.ok(errs.grad_norm! <= TOL.norm, `grad_norm ${errs.grad_norm}`);
    assert.ok(errs.lora_grad! <= TOL.grad, `lora_grad ${errs.lora_grad}`);
    for (let s = 1; s <= 3; s++) assert.ok(errs[`after_step${s}`]! <= TOL.weight, `after_step${s} ${errs[`after_step${s}`]}`);
    assert.ok(errs.saved_adapter! <= TOL.saved, `saved_adapter ${errs.saved_adapter}`);
    assert.ok(errs.merged_logits! <= TOL.logits, `merged_logits ${errs.merged_logits}`);
    assert.ok(errs.merged_reload_logits! <= TOL.logits, `merged_reload_logits ${errs.merged_reload_logits}`);
  });
});

describe('print_trainable_parameters for microsoft/biogpt (shapes only, CPU)', () => {
  it('matches PEFT for r=8 on q_proj/v_proj', async () => {
    const { cpuBackend } = await import('../../src/backend/cpu/index.js');
    const { deferParameterInit } = await import('../../src/nn/module.js');
    const { biogptConfig, BIOGPT_SIZES } = await import('../../src/models/biogpt/config.js');
    const { applyLora } = await import('../../src/nn/lora.js');
    withBackend(cpuBackend(), () => {
      // Deferred: the 347M base weights are never allocated; only the LoRA matrices are.
      const m = deferParameterInit(() => new BioGptForCausalLM(biogptConfig(BIOGPT_SIZES.biogpt)));
      applyLora(m, { r: 8, alpha: 16, dropout: 0.1, targetModules: ['q_proj', 'v_proj'], bias: 'none' }, 0);
      assert.equal(trainableParametersLine(m), 'trainable params: 786,432 || all params: 347,549,696 || trainable%: 0.2263');
      m.dispose();
    });
  });

  it('counts an int8 base as PEFT counts Int8Params (one per logical weight)', { skip: SKIP }, async () => {
    const { quantizeInt8 } = await import('../../src/models/biogpt/quantize.js');
    const { applyLora } = await import('../../src/nn/lora.js');
    await withBackend(gpu, async () => {
      const f32 = BioGptForCausalLM.fromPretrained(modelDir!);
      const q = BioGptForCausalLM.fromPretrained(modelDir!);
      try {
        assert.ok(quantizeInt8(q) > 0);
        const cfg = { r: 8, alpha: 16, dropout: 0.1, targetModules: ['q_proj', 'v_proj'], bias: 'none' as const };
        applyLora(f32, cfg, 0);
        applyLora(q, cfg, 0);
        assert.equal(trainableParametersLine(q), trainableParametersLine(f32));
      } finally {
        f32.dispose();
        q.dispose();
      }
    });
  });
});

/**
 * BioGPT parity with transformers 5.17 (shared/golden/golden_tiny.*, made by BioGptForCausalLM on the
 * tiny random model in shared/golden/tiny_biogpt): logits, every hidden state, the loss and the
 * gradient of every parameter, loading from model.safetensors and from pytorch_model.bin, on WebGPU
 * and on the float64 CPU reference.
 *
 * Error measure: rel = max|got - want| / max|want| over the whole tensor (one scale per tensor, so
 * near-zero elements do not blow it up). Gradients that are zero in exact arithmetic (k_proj.bias:
 * softmax ignores a per-row constant, so the golden holds float32 noise ~1e-9) are measured against
 * 1e-3 of the largest gradient of the model instead: rel = max|got - want| / max(max|want|, 1e-3·G).
 * Tolerances (float32 golden): logits and hidden states 1e-4, loss 1e-5, gradients 1e-3.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { backward } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import '../../src/ops/index.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { sharedPath } from '../../src/util/paths.js';
import { maxRelErr } from '../helpers/compare.js';

const modelDir = sharedPath('golden', 'tiny_biogpt');
const goldenFile = sharedPath('golden', 'golden_tiny.safetensors');
const goldenJson = sharedPath('golden', 'golden_tiny.json');
const SKIP = !modelDir || !goldenFile || !goldenJson ? 'shared/golden/tiny_biogpt or golden_tiny.* is absent' : false;

const TOL = { logits: 1e-4, hidden: 1e-4, loss: 1e-5, grad: 1e-3 };

interface Golden {
  ids: Float32Array;
  mask: Float32Array;
  labels: Float32Array;
  get(name: string): Float32Array;
  loss: number;
}

let golden: Golden;
let gpu: Backend;

before(async () => {
  if (SKIP) return;
  const r = SafetensorsReader.open(goldenFile!);
  const cache = new Map<string, Float32Array>();
  const get = (n: string) => {
    let v = cache.get(n);
    if (!v) cache.set(n, (v = r.readF32(n)));
    return v;
  };
  const { readFileSync } = await import('node:fs');
  const json = JSON.parse(readFileSync(goldenJson!, 'utf8')) as { loss: number };
  golden = { ids: get('input_ids'), mask: get('attention_mask'), labels: get('labels'), get, loss: json.loss };
  gpu = await initWebGpuBackend();
});
after(() => shutdownGpu());

const shape = [2, 12] as const;

async function runParity(be: Backend, checkpoint: string, withGrads: boolean, label: string): Promise<void> {
  const errs: Record<string, number> = {};
  await withBackend(be, async () => {
    const model = BioGptForCausalLM.fromPretrained(modelDir!, { checkpoint });
    try {
      assert.equal(model.loadReport!.unexpected.length, 0, `unexpected keys ${model.loadReport!.unexpected}`);
      const out = tidy(() => {
        const o = model.forward({
          inputIds: { data: golden.ids, shape },
          attentionMask: { data: golden.mask, shape },
          labels: { data: golden.labels, shape },
          outputHiddenStates: true,
        });
        if (withGrads) backward(o.loss!);
        return { logits: o.logits, loss: o.loss!, hidden: o.hiddenStates! };
      });
      assert.deepEqual([...out.logits.shape], [2, 12, 512]);
      assert.equal(out.hidden.length, 3, 'hidden states: embeddings, after layer 0, after the final layer norm');
      errs.logits = maxRelErr(await out.logits.data(), golden.get('logits'));
      for (let i = 0; i < out.hidden.length; i++) errs[`hidden.${i}`] = maxRelErr(await out.hidden[i]!.data(), golden.get(`hidden.${i}`));
      const loss = await out.loss.item();
      errs.loss = Math.abs(loss - golden.loss) / Math.abs(golden.loss);
      if (withGrads) {
        const named = model.namedParameters();
        assert.equal(named.length, 36, 'parameter count (tied head listed once)');
        let G = 0;
        for (const [n] of named) for (const v of golden.get(`grad.${n}`)) G = Math.max(G, Math.abs(v));
        let worst = 0;
        let worstName = '';
        let worstNonzero = 0; // excluding the analytically zero k_proj.bias gradients
        for (const [n, p] of named) {
          assert.ok(p.grad, `${n} has a gradient`);
          const e = maxRelErr(await p.grad.data(), golden.get(`grad.${n}`), { floor: 1e-3 * G });
          assert.ok(e <= TOL.grad, `${label}: grad.${n} rel error ${e.toExponential(2)} > ${TOL.grad}`);
          if (e > worst) [worst, worstName] = [e, n];
          if (!n.endsWith('k_proj.bias')) worstNonzero = Math.max(worstNonzero, maxRelErr(await p.grad.data(), golden.get(`grad.${n}`)));
        }
        errs[`grad worst (${worstName})`] = worst;
        errs['grad worst excluding k_proj.bias'] = worstNonzero;
      }
      for (const t of [out.logits, out.loss, ...out.hidden]) t.dispose();
    } finally {
      model.dispose();
    }
  });
  console.log(`[biogpt parity] ${label}: ${Object.entries(errs).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
  assert.ok(errs.logits! <= TOL.logits, `${label}: logits rel error ${errs.logits}`);
  for (let i = 0; i < 3; i++) assert.ok(errs[`hidden.${i}`]! <= TOL.hidden, `${label}: hidden.${i} rel error ${errs[`hidden.${i}`]}`);
  assert.ok(errs.loss! <= TOL.loss, `${label}: loss rel error ${errs.loss}`);
}

describe('BioGPT parity with transformers (tiny golden model)', { skip: SKIP }, () => {
  for (const checkpoint of ['model.safetensors', 'pytorch_model.bin']) {
    it(`WebGPU, ${checkpoint}: logits, hidden states, loss and every gradient`, async () => {
      await runParity(gpu, checkpoint, true, `webgpu ${checkpoint}`);
    });
    it(`CPU reference, ${checkpoint}: logits, hidden states, loss and every gradient`, async () => {
      await runParity(cpuBackend(), checkpoint, true, `cpu ${checkpoint}`);
    });
  }

  it('both checkpoint formats load identical weights; the .bin tied head is not reported as unexpected', async () => {
    await withBackend(cpuBackend(), async () => {
      const a = BioGptForCausalLM.fromPretrained(modelDir!, { checkpoint: 'model.safetensors' });
      const b = BioGptForCausalLM.fromPretrained(modelDir!, { checkpoint: 'pytorch_model.bin' });
      const pb = new Map(b.namedParameters());
      for (const [n, p] of a.namedParameters()) assert.deepEqual(await p.data(), await pb.get(n)!.data(), n);
      assert.equal(a.loadReport!.tensors, 36);
      assert.equal(b.loadReport!.tensors, 36);
      a.dispose();
      b.dispose();
    });
  });
});

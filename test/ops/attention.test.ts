/**
 * Fused attention (src/ops/attention.ts): the WGSL flash forward/backward and decode kernels vs the
 * composite path (matmul → HF additive mask → softmax → dropout → matmul) through the autograd
 * engine on the float64 CPU reference, and vs the CPU reference of the fused kernels. Cases: T = 1,
 * T not a multiple of the blocks (8-row register tiles and 64-row workgroups), head dims 16/24/32/64/128,
 * causal and not, heavy left padding (fully masked query rows and fully padded key blocks: fused
 * gives exactly 0 and finite gradients; compared rows are those with at least one allowed key, see
 * the convention in src/ops/attention.ts), seeded dropout. The CPU references are computed once
 * per case; the WGSL kernels run under the register-tiled CPU-adapter selection and, for the cases
 * marked `both`, also under the two GPU selections (`selections` below).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu } from '../../src/gpu/device.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { withBackend } from '../../src/backend/registry.js';
import { numel, type Backend } from '../../src/backend/types.js';
import { attentionDecode, compositeAttention, flashAttention } from '../../src/ops/attention.js';
import * as ops from '../../src/ops/index.js';
import { FLOAT32_MIN } from '../../src/ops/nn/attention_mask.js';
import { assertClose, ErrorLog } from '../helpers/compare.js';
import { forEachKernelStyle, getBackends, randValues, runOn, type InputSpec, type RunResult } from '../helpers/ops_harness.js';
import { tuning } from '../../src/backend/webgpu/common.js';
import { flashTuning } from '../../src/backend/webgpu/attention.js';

const log = new ErrorLog();
after(async () => {
  console.log(`worst errors (attention):\n${log.summary()}`);
  await shutdownGpu();
});

interface Case { B: number; H: number; T: number; D: number; causal: boolean; pad: number[]; dropout: number }

/** Left padding: sequence b has pad[b] leading padding tokens. */
function maskOf(c: Case): Float64Array {
  const m = new Float64Array(c.B * c.T).fill(1);
  c.pad.forEach((p, b) => m.fill(0, b * c.T, b * c.T + Math.min(p, c.T)));
  return m;
}

/** Query rows with at least one allowed key (per [B, H, T] row). */
function liveRows(c: Case, m: Float64Array): boolean[] {
  const live: boolean[] = [];
  for (let b = 0; b < c.B; b++) {
    for (let h = 0; h < c.H; h++) {
      for (let i = 0; i < c.T; i++) {
        let any = false;
        for (let j = 0; j < c.T && !any; j++) any = m[b * c.T + j] !== 0 && (!c.causal || j <= i);
        live.push(any);
      }
    }
  }
  return live;
}

const pick = (a: ArrayLike<number>, live: boolean[], D: number): number[] => Array.from(a).filter((_, e) => live[Math.floor(e / D)]);

/**
 * Kernel selections: register tiles (CPU adapters), and on GPU adapters the one-row-per-thread and
 * the workgroup-blocked kernels (head dims that are not a multiple of 8 run the row kernels there)
 * with the one-pass backward (two passes where its square blocks do not fit: D 128 here) and with
 * the two-pass one.
 */
const selections = [
  { name: 'tiled', cpuStyle: true, kernel: 'auto', backward: 'one-pass' },
  { name: 'rows', cpuStyle: false, kernel: 'rows', backward: 'one-pass' },
  { name: 'blocked', cpuStyle: false, kernel: 'blocked', backward: 'one-pass' },
  { name: 'blocked two-pass', cpuStyle: false, kernel: 'blocked', backward: 'two-pass' },
] as const;

async function check(c: Case, seed: number, both = false): Promise<void> {
  const { gpu, cpu } = await getBackends();
  const shape = [c.B, c.H, c.T, c.D];
  const n = numel(shape);
  const m = maskOf(c);
  const live = liveRows(c, m);
  const inputs: InputSpec[] = [
    { data: randValues(n, seed, -2, 2), shape }, { data: randValues(n, seed + 1, -2, 2), shape },
    { data: randValues(n, seed + 2), shape }, { data: m, shape: [c.B, c.T], requiresGrad: false },
  ];
  // Upstream gradient zero on dead rows: the composite path's uniform rows would otherwise feed dV.
  const w = randValues(n, seed + 3);
  for (let e = 0; e < n; e++) if (!live[Math.floor(e / c.D)]) w[e] = 0;
  const opts = { causal: c.causal, dropout: c.dropout, seed: seed + 9 };
  const fused = (q: Tensor, k: Tensor, v: Tensor, mk: Tensor) => flashAttention(q, k, v, { ...opts, mask: mk });
  const comp = (q: Tensor, k: Tensor, v: Tensor, mk: Tensor) => compositeAttention(q, k, v, { ...opts, mask: mk });
  const refFused = await runOn(cpu, fused, inputs, w);
  const refComp = await runOn(cpu, comp, inputs, w);
  for (const sel of both ? selections : selections.slice(0, 1)) {
    tuning.cpuStyle = sel.cpuStyle;
    const keepBackward = flashTuning.backward;
    flashTuning.kernel = sel.kernel;
    flashTuning.backward = sel.backward;
    try {
      const before = gpu.bytesInUse();
      const got = await runOn(gpu, fused, inputs, w);
      assert.equal(gpu.bytesInUse(), before, 'flash attention leaked GPU memory');
      const label = `attn B${c.B} H${c.H} T${c.T} D${c.D}${c.causal ? ' causal' : ''} pad[${c.pad}] p${c.dropout} ${sel.name}`;
      compare(c, live, got, refFused, refComp, label);
    } finally {
      tuning.cpuStyle = 'auto';
      flashTuning.kernel = 'auto';
      flashTuning.backward = keepBackward;
    }
  }
}

function compare(c: Case, live: boolean[], got: RunResult, refFused: RunResult, refComp: RunResult, label: string): void {
  const n = numel([c.B, c.H, c.T, c.D]);
  const tol = { rtol: 1e-4, atol: 2e-5 };
  log.add('fwd', assertClose(pick(got.out, live, c.D), pick(refComp.out, live, c.D), { ...tol, label: `${label} o vs composite` }));
  assertClose(got.out, refFused.out, { ...tol, label: `${label} o vs fused reference` });
  for (let e = 0; e < n; e++) if (!live[Math.floor(e / c.D)]) assert.equal(got.out[e], 0, `${label}: fully masked row gives 0`);
  ['dq', 'dk', 'dv'].forEach((name, a) => {
    const g = got.grads[a]!;
    assert.ok(Array.from(g).every(Number.isFinite), `${label} ${name} finite`);
    log.add(name, assertClose(g, refComp.grads[a]!, { rtol: 1e-3, atol: 1e-4, label: `${label} ${name} vs composite` }));
  });
}

describe('flashAttention vs composite attention', () => {
  it('small shapes: T = 1, odd T, head dims 16 / 32, causal and not', async () => {
    await check({ B: 1, H: 1, T: 1, D: 16, causal: true, pad: [], dropout: 0 }, 1, true);
    await check({ B: 2, H: 2, T: 17, D: 16, causal: true, pad: [], dropout: 0 }, 2);
    await check({ B: 2, H: 1, T: 33, D: 32, causal: false, pad: [0, 5], dropout: 0 }, 3, true);
  });
  it('T not a multiple of the blocks, head dim 64, heavy left padding', async () => {
    // 70 rows: two 64-row workgroups, a partial 8-row tile, fully padded key blocks in sequences 1, 2
    await check({ B: 3, H: 2, T: 70, D: 64, causal: true, pad: [0, 40, 69], dropout: 0 }, 4, true);
    await check({ B: 2, H: 1, T: 20, D: 24, causal: false, pad: [20, 3], dropout: 0 }, 5, true);
    // D 128: the blocked kernels shrink their query block to fit workgroup memory
    await check({ B: 1, H: 2, T: 45, D: 128, causal: true, pad: [4], dropout: 0.1 }, 8, true);
  });
  it('seeded dropout matches the composite dropout mask', async () => {
    await check({ B: 2, H: 2, T: 37, D: 16, causal: true, pad: [0, 6], dropout: 0.25 }, 6, true);
    await check({ B: 1, H: 2, T: 75, D: 64, causal: true, pad: [9], dropout: 0.1 }, 7, true);
  });
});

/**
 * Decode cases: [B, H, S, D, pad per sequence]. GPU selection: decode_wide.wgsl (chunks of 1024
 * keys) when D % 4 == 0, else decode.wgsl; CPU selection: decode.wgsl. Sequences with every key
 * padded must give exactly 0 (compared with the fused CPU reference; the composite path averages V).
 */
const decodeCases: [number, number, number, number, number[]][] = [
  [2, 2, 1, 16, [0, 0]], // S = 1
  [2, 3, 130, 64, [65, 0]], // two 64-key chunks of decode.wgsl, one partial chunk of the wide kernel
  [1, 2, 300, 32, [150]],
  [2, 2, 2500, 64, [1100, 0]], // three wide chunks, the last partial; a fully padded first chunk
  [3, 1, 37, 80, [0, 37, 5]], // D = 80 (20 vec4, 12 groups), a fully masked sequence
  [1, 3, 1025, 24, [0]], // 1024 + 1 keys
  [2, 1, 9, 30, [2, 9]], // D % 4 != 0: decode.wgsl under both selections
  [1, 2, 70, 256, [3]], // largest head dim: 64 vec4, 4 groups
];

describe('attentionDecode vs composite', () => {
  for (const [B, H, S, D, pad] of decodeCases) {
    it(`B${B} H${H} S${S} D${D} pad [${pad}], both kernel selections`, async () => {
      const { gpu, cpu } = await getBackends();
      const q = randValues(B * H * D, 1, -2, 2);
      const k = randValues(B * H * S * D, 2, -2, 2);
      const v = randValues(B * H * S * D, 3);
      const m = new Float64Array(B * S).fill(1);
      pad.forEach((p, b) => m.fill(0, b * S, b * S + p));
      const run = (be: Backend, fused: boolean) => withBackend(be, () => {
        const qt = new Tensor(be.upload(q, [B, H, 1, D], 'f32'), be);
        const kt = new Tensor(be.upload(k, [B, H, S, D], 'f32'), be);
        const vt = new Tensor(be.upload(v, [B, H, S, D], 'f32'), be);
        const mt = new Tensor(be.upload(m, [B, S], 'f32'), be);
        if (fused) return attentionDecode(qt, kt, vt, { mask: mt });
        const bias = new Float64Array(B * S).map((_, e) => (m[e] ? 0 : FLOAT32_MIN));
        const s = ops.add(ops.mul(ops.matmul(qt, kt, { transB: true }), 1 / Math.sqrt(D)), new Tensor(be.upload(bias, [B, 1, 1, S], 'f32'), be));
        return ops.matmul(ops.softmax(s), vt);
      });
      const composite = await run(cpu, false).dataRaw();
      const ref = await run(cpu, true).dataRaw();
      // Fully padded sequences: the fused reference gives 0, the rest must match the composite path.
      const want = new Float64Array(ref.length);
      for (let b = 0; b < B; b++) {
        const full = pad[b]! >= S;
        for (let e = b * H * D; e < (b + 1) * H * D; e++) {
          want[e] = full ? 0 : composite[e]!;
          assert.ok(!full || ref[e] === 0, `cpu decode reference: fully masked sequence ${b} gives 0`);
        }
      }
      assertClose(ref, want, { rtol: 1e-9, atol: 1e-12, label: 'cpu decode reference' });
      await forEachKernelStyle(async (style) => {
        const got = await run(gpu, true).dataRaw();
        log.add('decode', assertClose(got, want, { rtol: 1e-4, atol: 2e-5, label: `decode ${style} B${B} H${H} S${S} D${D}` }));
        for (let b = 0; b < B; b++) {
          if (pad[b]! >= S) for (let e = b * H * D; e < (b + 1) * H * D; e++) assert.equal(got[e], 0, `${style}: fully masked sequence ${b} gives 0`);
        }
      });
    });
  }
});

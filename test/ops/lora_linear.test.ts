/**
 * loraLinear (src/ops/lora_linear.ts): the fused kernels vs the unfused ops (loraLinearComposed) on
 * random odd shapes, training and eval, p = 0 and p > 0, f32 and int8 W, gradients to x, A, B (and
 * bias); WGSL vs the float64 reference (both kernel selections) with finite differences on the CPU;
 * the in-kernel dropout mask bit-identical to the dropout op's; the forward GEMM on the row-broadcast
 * kernel and on the re-laid register kernel (gemmTuning.rows / relayout forced on / off / auto) at
 * K ≥ 1024 and below, K % 4 = 0 and not, rows below and above MATMUL_RELAYOUT.minM; the GPU-style
 * GEMMs on matmul_tiled8.wgsl bit-identical to matmul.wgsl; dA (loraGradA) on the serial and the
 * token-split kernels with N up to 2048 vs the CPU reference.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu } from '../../src/gpu/device.js';
import { loraLinear, loraLinearComposed, type LoraLinearOptions } from '../../src/ops/lora_linear.js';
import { disposeQuantized, quantizeWeight } from '../../src/ops/matmul_int8.js';
import { kernelsFor } from '../../src/backend/fused.js';
import { Tensor } from '../../src/tensor/tensor.js';
import * as ops from '../../src/ops/index.js';
import { backward } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import { withBackend } from '../../src/backend/registry.js';
import { Linear, type LinearModule } from '../../src/nn/linear.js';
import { Module } from '../../src/nn/module.js';
import { applyLora } from '../../src/nn/lora.js';
import { Int8Linear } from '../../src/nn/int8_linear.js';
import { Int8LinearModule } from '../../src/models/biogpt/quantize.js';
import { gemmTuning, MATMUL_RELAYOUT, MATMUL_ROWS, skinnyTuning, tiled8Tuning } from '../../src/backend/webgpu/matmul.js';
import { LORA_GRAD_A_SPLIT, loraGradATuning } from '../../src/backend/webgpu/lora.js';
import { tuning } from '../../src/backend/webgpu/common.js';
import { int8SkinnyTuning } from '../../src/backend/webgpu/int8.js';
import { checkOp, forEachKernelStyle, getBackends, property, randValues, recordLaunches, runOn, seedArb, TOL_ACCUM, type InputSpec } from '../helpers/ops_harness.js';
import { assertClose, ErrorLog } from '../helpers/compare.js';

const log = new ErrorLog();
after(async () => {
  console.log(`worst errors (loraLinear):\n${log.summary()}`);
  await shutdownGpu();
});

interface Case { lead: number[]; I: number; O: number; r: number; p: number; training: boolean; bias: boolean; int8: boolean }

const caseArb: fc.Arbitrary<Case> = fc.record({
  lead: fc.constantFrom([1], [5], [2, 3], [17], [65]),
  I: fc.constantFrom(1, 3, 17, 33, 65),
  O: fc.constantFrom(1, 5, 9, 66, 129),
  r: fc.constantFrom(1, 2, 4, 5, 8),
  p: fc.constantFrom(0, 0.1, 0.5),
  training: fc.boolean(),
  bias: fc.boolean(),
  int8: fc.boolean(),
});

function inputsOf(c: Case, seed: number): InputSpec[] {
  const N = c.lead.reduce((a, b) => a * b, 1);
  const ins: InputSpec[] = [
    { data: randValues(N * c.I, seed, -3, 3), shape: [...c.lead, c.I] },
    { data: randValues(c.O * c.I, seed + 1), shape: [c.O, c.I], requiresGrad: false },
    { data: randValues(c.r * c.I, seed + 2), shape: [c.r, c.I] },
    { data: randValues(c.O * c.r, seed + 3), shape: [c.O, c.r] },
  ];
  if (c.bias) ins.push({ data: randValues(c.O, seed + 4), shape: [c.O] });
  return ins;
}

const run = (c: Case, o: LoraLinearOptions) => (x: Tensor, w: Tensor, a: Tensor, b: Tensor, bias?: Tensor) =>
  loraLinear(x, c.int8 ? quantizeWeight(w) : w, bias ?? null, a, b, o);

async function compareFused(c: Case, seed: number): Promise<void> {
  const { gpu, cpu } = await getBackends();
  const o: LoraLinearOptions = { alpha: 2 * c.r, dropout: c.p, seed: seed ^ 0x5bd1, training: c.training };
  const ins = inputsOf(c, seed);
  const N = c.lead.reduce((a, b) => a * b, 1);
  const w = randValues(N * c.O, seed + 9);
  const label = `lora [${c.lead}, ${c.I}]→${c.O} r${c.r} p${c.p}${c.training ? '' : ' eval'}${c.int8 ? ' int8' : ''}${c.bias ? ' +bias' : ''}`;
  for (const [name, be] of [['cpu', cpu], ['gpu', gpu]] as const) {
    await forEachKernelStyle(async (style) => {
      if (name === 'cpu' && style === 'gpu-style') return;
      const fused = await runOn(be, run(c, o), ins, w);
      const comp = await runOn(be, run(c, { ...o, composed: true }), ins, w);
      const tol = { ...TOL_ACCUM, label: `${label} ${name} ${style}` };
      log.add(`${name} fwd`, assertClose(fused.out, comp.out, { ...tol, label: `${tol.label} forward` }));
      fused.grads.forEach((g, i) => {
        const want = comp.grads[i];
        if (i === 1) return assert.equal(g, null, 'W is frozen');
        assert.ok(g && want, `${label}: gradient of input ${i}`);
        log.add(`${name} bwd`, assertClose(g, want, { ...tol, label: `${tol.label} grad ${i}` }));
      });
    });
  }
}

/** A model holding one projection at path 'proj' (the LoRA target). */
class Wrap extends Module {
  constructor(l: LinearModule) {
    super();
    this.addModule('proj', l);
  }
  forward(x: Tensor): Tensor {
    return (this.getSubmodule('proj') as LinearModule).forward(x);
  }
}

describe('loraLinear', () => {
  it('fused equals the unfused ops on both backends (odd shapes, train/eval, p = 0 / > 0, f32 / int8 W): output and gradients of x, A, B, bias', async () => {
    await property(fc.tuple(caseArb, seedArb), async ([c, seed]) => compareFused(c, seed), 12);
    // Fixed cases so that each base kind is covered whatever the generated ones are.
    await compareFused({ lead: [2, 9], I: 65, O: 33, r: 8, p: 0.1, training: true, bias: true, int8: true }, 21);
    await compareFused({ lead: [17], I: 33, O: 66, r: 5, p: 0.5, training: true, bias: false, int8: false }, 22);
    await compareFused({ lead: [5], I: 17, O: 9, r: 4, p: 0.5, training: false, bias: true, int8: true }, 23);
  });

  it('f32 base with dropout and bias, batch dims: WGSL vs CPU reference, CPU gradients vs finite differences', async () => {
    for (const [lead, I, O, r] of [[[5], 17, 9, 4], [[2, 3], 65, 33, 8], [[1], 1, 1, 1]] as const) {
      const N = (lead as readonly number[]).reduce((s, d) => s * d, 1);
      await checkOp(`lora f32 [${lead}, ${I}]→${O} r${r}`, (x, w, a, b, bias) => loraLinear(x, w, bias!, a, b, { alpha: 8, dropout: 0.2, seed: 3 }), [
        { data: randValues(N * I, 1), shape: [...lead, I] }, { data: randValues(O * I, 2), shape: [O, I], requiresGrad: false },
        { data: randValues(r * I, 4), shape: [r, I] }, { data: randValues(O * r, 5), shape: [O, r] }, { data: randValues(O, 3), shape: [O] },
      ], { fwd: TOL_ACCUM, bwd: TOL_ACCUM, fd: { maxElements: 8 }, log });
    }
    // Frozen B (u is then not kept for the backward); checkOp also checks that no GPU bytes leak.
    await checkOp('lora frozen B', (x, w, a, b) => loraLinear(x, w, null, a, b, { alpha: 4, dropout: 0.3, seed: 9 }), [
      { data: randValues(6 * 19, 6, -3, 3), shape: [6, 19] }, { data: randValues(11 * 19, 7), shape: [11, 19], requiresGrad: false },
      { data: randValues(2 * 19, 8), shape: [2, 19] }, { data: randValues(11 * 2, 9), shape: [11, 2], requiresGrad: false },
    ], { fwd: TOL_ACCUM, bwd: TOL_ACCUM, fd: false, log });
  });

  it('decode shapes (few rows): skinny kernels forced on and off agree with the CPU reference (f32 and int8 W)', async () => {
    // Rows ≤ maxM go to the skinny kernels (f32: skinnyTuning, int8: int8SkinnyTuning) with the
    // LoRA epilogue; both selections must match the reference, forward and backward (dx of the f32
    // base uses the skinny kernel with the transposed LW and the dropout mask). I odd (scalar
    // skinny kernel) or a multiple of 4 (vec4 kernel under the CPU style).
    const { gpu, cpu } = await getBackends();
    for (const use of [true, false]) {
      for (const [lead, I, O, r, int8] of [[[1], 67, 33, 4, false], [[3], 64, 9, 8, false], [[2, 5], 17, 66, 2, false], [[1], 65, 35, 4, true], [[9], 64, 17, 3, true]] as const) {
        const N = (lead as readonly number[]).reduce((s, d) => s * d, 1);
        const label = `lora decode ${int8 ? 'int8' : 'f32'} [${lead}, ${I}]→${O} r${r} skinny ${use}`;
        const ins: InputSpec[] = [
          { data: randValues(N * I, 1, -3, 3), shape: [...lead, I] }, { data: randValues(O * I, 2), shape: [O, I], requiresGrad: false },
          { data: randValues(r * I, 4), shape: [r, I] }, { data: randValues(O * r, 5), shape: [O, r] }, { data: randValues(O, 3), shape: [O] },
        ];
        const o = { alpha: 8, dropout: 0.2, seed: 3 };
        if (!int8) {
          skinnyTuning.use = use;
          try {
            await checkOp(label, (x, w, a, b, bias) => loraLinear(x, w, bias!, a, b, o), ins, { fwd: TOL_ACCUM, bwd: TOL_ACCUM, fd: false, log });
          } finally {
            skinnyTuning.use = 'auto';
          }
          continue;
        }
        // int8 W: the quantised weight outlives the run (the backward reads it), so it is freed here.
        const qs: Array<ReturnType<typeof quantizeWeight>> = [];
        const fn = (x: Tensor, w: Tensor, a: Tensor, b: Tensor, bias?: Tensor) => {
          const q = quantizeWeight(w);
          qs.push(q);
          return loraLinear(x, q, bias!, a, b, o);
        };
        const dy = randValues(N * O, 8);
        const want = await runOn(cpu, fn, ins, dy);
        await forEachKernelStyle(async (style) => {
          int8SkinnyTuning.use = use;
          try {
            const got = await runOn(gpu, fn, ins, dy);
            log.add('gpu decode fwd', assertClose(got.out, want.out, { ...TOL_ACCUM, label: `${label} ${style} forward` }));
            got.grads.forEach((g, i) => {
              if (g) log.add('gpu decode bwd', assertClose(g, want.grads[i]!, { ...TOL_ACCUM, label: `${label} ${style} grad ${i}` }));
            });
          } finally {
            int8SkinnyTuning.use = 'auto';
          }
        });
        for (const q of qs) disposeQuantized(q);
      }
    }
  });

  it('f32 forward GEMM on the row-broadcast and re-laid register kernels (each forced on / off / auto, both kernel styles): vs the unfused ops and the CPU reference, output and gradients of x, A, B, bias', async () => {
    // The fused forward runs matmul_regs_nt.wgsl with the LoRA epilogue under useRowKernel's rule
    // (x·Wᵀ, K % 4 = 0; auto: CPU adapters and K ≥ minK), or, under useRelayout's (auto: CPU
    // adapters, rows ≥ MATMUL_RELAYOUT.minM, K ≥ its minK), transposes W and runs the register /
    // tiled kernel without transB. Rows not a multiple of R = 8, 8 or 64, columns not a multiple of
    // 4 or 4·WG, K % 4 ≠ 0 on both sides of the thresholds; the skinny kernels are off so that 13
    // rows take the GEMM path too. The kernels dispatched are recorded to check that the selection
    // is the one under test.
    const { gpu, cpu } = await getBackends();
    const minK = MATMUL_ROWS.minK;
    const rel = MATMUL_RELAYOUT;
    const cases: Array<[number[], number, number, number, number, boolean]> = [
      [[13], minK, 70, 4, 0.1, true], [[3, 7], minK + 4, 33, 8, 0, false], [[19], 64, 67, 5, 0.2, false],
      [[11], 67, 66, 3, 0.1, true], [[9, 2], minK + 2, 9, 2, 0, true],
      [[rel.minM + 3], minK + 4, 37, 4, 0.1, false], [[5, 15], rel.minK + 2, 70, 3, 0.2, true],
      [[rel.minM + 1], rel.minK - 4, 131, 8, 0, true], [[2 * rel.minM + 9], 259, 13, 5, 0, false],
    ];
    const { names, restore } = recordLaunches();
    skinnyTuning.use = false;
    try {
      for (const [lead, I, O, r, p, bias] of cases) {
        const N = lead.reduce((s, d) => s * d, 1);
        const c: Case = { lead, I, O, r, p, training: true, bias, int8: false };
        // x in [-1, 1] and A scaled by 1/√I (as LoRA's init): sums over K = 1024 stay O(1–10), so the
        // gradient of B (a sum over rows of u·dy) is not dominated by cancellation of large terms.
        const sa = 1 / Math.sqrt(I);
        const ins: InputSpec[] = [
          { data: randValues(N * I, I), shape: [...lead, I] }, { data: randValues(O * I, I + 1), shape: [O, I], requiresGrad: false },
          { data: randValues(r * I, I + 2, -sa, sa), shape: [r, I] }, { data: randValues(O * r, I + 3), shape: [O, r] },
          ...(bias ? [{ data: randValues(O, I + 4), shape: [O] }] : []),
        ];
        const dy = randValues(N * O, 41);
        const o: LoraLinearOptions = { alpha: 2 * r, dropout: p, seed: 77, training: true };
        const want = await runOn(cpu, run(c, o), ins, dy);
        for (const [rows, relayout] of [[true, 'auto'], [false, 'auto'], ['auto', 'auto'], [true, true], ['auto', true], [false, true], [true, false], ['auto', false]] as const) {
          await forEachKernelStyle(async (style) => {
            gemmTuning.rows = rows;
            gemmTuning.relayout = relayout;
            try {
              const label = `lora rows ${rows} relayout ${relayout} ${style} [${lead}, ${I}]→${O} r${r} p${p}${bias ? ' +bias' : ''}`;
              names.length = 0;
              const fused = await runOn(gpu, run(c, o), ins, dy);
              const cpuStyle = style === 'cpu-style';
              const expectRelayout = relayout === true || (relayout === 'auto' && rows !== true && cpuStyle && N >= rel.minM && I >= rel.minK);
              const expectRows = !expectRelayout && I % 4 === 0 && (rows === true || (rows === 'auto' && cpuStyle && I >= minK));
              assert.equal(names.includes('lora_gemm_rows'), expectRows, `${label}: row kernel dispatched (${names.join(', ')})`);
              // Re-laid: the transpose of W, then the register (tiled) kernel with the epilogue.
              const tr = names.indexOf('transpose_u32');
              assert.equal(tr >= 0, expectRelayout, `${label}: W transposed (${names.join(', ')})`);
              if (expectRelayout) assert.equal(names[tr + 1], `lora_gemm_${cpuStyle ? 'regs' : 'tiled'}`, `${label}: kernel after the transpose`);
              const comp = await runOn(gpu, run(c, { ...o, composed: true }), ins, dy);
              const tol = { ...TOL_ACCUM, label };
              log.add('gpu rows fwd', assertClose(fused.out, comp.out, { ...tol, label: `${label} forward vs unfused` }));
              log.add('gpu rows fwd', assertClose(fused.out, want.out, { ...tol, label: `${label} forward vs CPU` }));
              fused.grads.forEach((g, i) => {
                if (i === 1) return assert.equal(g, null, 'W is frozen');
                assert.ok(g && comp.grads[i] && want.grads[i], `${label}: gradient of input ${i}`);
                log.add('gpu rows bwd', assertClose(g, comp.grads[i]!, { ...tol, label: `${label} grad ${i} vs unfused` }));
                log.add('gpu rows bwd', assertClose(g, want.grads[i]!, { ...tol, label: `${label} grad ${i} vs CPU` }));
              });
            } finally {
              gemmTuning.rows = 'auto';
              gemmTuning.relayout = 'auto';
            }
          });
        }
      }
    } finally {
      skinnyTuning.use = 'auto';
      restore();
    }
  });

  it('GPU style: the fused GEMMs on matmul_tiled8.wgsl (useTiled8) give the same bits as on matmul.wgsl, and match the CPU reference', async () => {
    // Forward x·Wᵀ takes tiled8 when I % 4 = 0, the backward dy·W when O % 4 = 0 and I % 4 = 0
    // (contiguous dims of x / W and of dy / W); otherwise matmul.wgsl. tiled8Tuning.use false is the
    // old selection, so the two runs must agree bit for bit (same f32 fma chain over k, same
    // epilogue), outputs and all gradients. Rows off the 128-row tile, columns off 128.
    const { gpu, cpu } = await getBackends();
    const { names, restore } = recordLaunches();
    skinnyTuning.use = false;
    tuning.cpuStyle = false;
    try {
      for (const [lead, I, O, r, p, bias] of [
        [[131], 68, 132, 8, 0.1, true], [[3, 45], 260, 36, 5, 0.2, false], [[17], 64, 33, 4, 0, true], [[70], 33, 68, 3, 0.3, true], [[129], 4, 4, 1, 0, false],
      ] as Array<[number[], number, number, number, number, boolean]>) {
        const N = lead.reduce((s, d) => s * d, 1);
        const c: Case = { lead, I, O, r, p, training: true, bias, int8: false };
        const label = `lora tiled8 [${lead}, ${I}]→${O} r${r} p${p}${bias ? ' +bias' : ''}`;
        const ins = inputsOf(c, I + O);
        const dy = randValues(N * O, 5);
        const o: LoraLinearOptions = { alpha: 2 * r, dropout: p, seed: 31, training: true };
        const res: Record<string, Awaited<ReturnType<typeof runOn>>> = {};
        for (const use of ['auto', false] as const) {
          tiled8Tuning.use = use;
          names.length = 0;
          try {
            res[String(use)] = await runOn(gpu, run(c, o), ins, dy);
          } finally {
            tiled8Tuning.use = 'auto';
          }
          const fwd = use === 'auto' && I % 4 === 0;
          const bwd = use === 'auto' && I % 4 === 0 && O % 4 === 0;
          assert.equal(names.filter((n) => n === 'lora_gemm_tiled8').length, (fwd ? 1 : 0) + (bwd ? 1 : 0), `${label} tiled8 ${use}: ${names.join(', ')}`);
          assert.equal(names.filter((n) => n === 'lora_gemm_tiled').length, (fwd ? 0 : 1) + (bwd ? 0 : 1), `${label} tiled8 ${use}: ${names.join(', ')}`);
        }
        const [fast, plain] = [res.auto!, res.false!];
        assert.deepEqual(Array.from(fast.out), Array.from(plain.out), `${label}: forward bits`);
        fast.grads.forEach((g, i) => assert.deepEqual(g && Array.from(g), plain.grads[i] && Array.from(plain.grads[i]!), `${label}: grad ${i} bits`));
        const want = await runOn(cpu, run(c, o), ins, dy);
        log.add('gpu tiled8 fwd', assertClose(fast.out, want.out, { ...TOL_ACCUM, label: `${label} forward vs CPU` }));
        fast.grads.forEach((g, i) => {
          if (g) log.add('gpu tiled8 bwd', assertClose(g, want.grads[i]!, { ...TOL_ACCUM, label: `${label} grad ${i} vs CPU` }));
        });
      }
    } finally {
      skinnyTuning.use = 'auto';
      tuning.cpuStyle = 'auto';
      restore();
    }
  });

  it('loraGradA: serial and token-split kernels (forced on / off / auto, both kernel styles) vs the CPU reference, N up to 2048, odd K and r', async () => {
    // The split kernel sums tokens n ≡ s (mod NS) per thread row and combines the NS partials; N
    // not a multiple of NS (or below it), K not a multiple of KC (or below it), r not a multiple of 4.
    const { gpu, cpu } = await getBackends();
    const { names, restore } = recordLaunches();
    const t = LORA_GRAD_A_SPLIT;
    try {
      for (const [N, K, r, p] of [
        [2048, 67, 8, 0.1], [1037, 130, 5, 0], [1001, 1, 3, 0.3], [t.NS - 3, t.KC + 1, 1, 0.2], [3, 33, 13, 0], [1500, 2 * t.KC, 4, 0.5],
      ] as const) {
        const up = (be: typeof gpu, data: Float64Array, shape: number[]) => new Tensor(be.upload(data, shape, 'f32'), be);
        const gd = randValues(N * r, N + K, -0.5, 0.5);
        const xd = randValues(N * K, N + K + 1, -2, 2);
        const d = { p, seed: 4321 };
        const ref = async (be: typeof gpu) => {
          const [g, x] = [up(be, gd, [N, r]), up(be, xd, [N, K])];
          const out = new Tensor(kernelsFor(be).loraGradA(g.raw(), x.raw(), d), be);
          const v = await out.data();
          for (const z of [g, x, out]) z.dispose();
          return v;
        };
        const want = await ref(cpu);
        for (const split of [true, false, 'auto'] as const) {
          await forEachKernelStyle(async (style) => {
            loraGradATuning.split = split;
            names.length = 0;
            try {
              const label = `loraGradA N${N} K${K} r${r} p${p} split ${split} ${style}`;
              const got = await ref(gpu);
              const expectSplit = split === true || (split === 'auto' && style === 'gpu-style');
              assert.deepEqual(names, [expectSplit ? 'lora_grad_a_split' : 'lora_grad_a'], label);
              log.add('gpu gradA', assertClose(got, want, { ...TOL_ACCUM, label }));
            } finally {
              loraGradATuning.split = 'auto';
            }
          });
        }
      }
    } finally {
      restore();
    }
  });

  it('int8 base: forward and backward leave no GPU bytes in use', async () => {
    const { gpu } = await getBackends();
    const before = gpu.bytesInUse();
    const up = (n: number, shape: number[], seed: number) => new Tensor(gpu.upload(randValues(n, seed), shape, 'f32'), gpu);
    const w = up(11 * 19, [11, 19], 1);
    const q = quantizeWeight(w);
    const [x, a, b] = [up(6 * 19, [6, 19], 2), up(2 * 19, [2, 19], 3), up(11 * 2, [11, 2], 4)];
    for (const t of [x, a, b]) t.requiresGrad = true;
    tidy(() => backward(ops.sum(loraLinear(x, q, null, a, b, { alpha: 4, dropout: 0.3, seed: 9 }))));
    assert.ok(x.grad && a.grad && b.grad);
    for (const t of [x, a, b, w]) t.dispose();
    disposeQuantized(q);
    assert.equal(gpu.bytesInUse(), before);
  });

  it('the in-kernel dropout mask is bit-identical to the dropout op', async () => {
    const { gpu, cpu } = await getBackends();
    for (const be of [gpu, cpu]) {
      const [N, I] = [7, 37];
      const x = new Tensor(be.upload(randValues(N * I, 11), [N, I], 'f32'), be);
      const eye = new Float32Array(I * I);
      for (let i = 0; i < I; i++) eye[i * I + i] = 1;
      const a = new Tensor(be.upload(eye, [I, I], 'f32'), be);
      // u = 1·dropout(x)·Iᵀ: every sum has one nonzero term, so it is exactly dropout(x).
      const u = new Tensor(kernelsFor(be).loraProject(x.raw(), a.raw(), { scale: 1, wKMajor: false, dropout: { p: 0.3, seed: 1234 } }), be);
      const ref = ops.dropout(x, 0.3, { seed: 1234 });
      const [got, want] = [await u.data(), await ref.data()];
      assert.deepEqual(Array.from(got), Array.from(want), `${be.name}: mask differs from the dropout op`);
      assert.ok(Array.from(got).some((v) => v === 0) && Array.from(got).some((v) => v !== 0));
      for (const t of [x, a, u, ref]) t.dispose();
    }
  });

  it('LoRALinear (src/nn/lora.ts) runs the fused kernels for f32 and int8 bases', async () => {
    const { gpu } = await getBackends();
    const k = kernelsFor(gpu) as unknown as Record<string, (...args: unknown[]) => unknown>;
    const calls: string[] = [];
    const saved = new Map<string, (...args: unknown[]) => unknown>();
    for (const name of ['loraProject', 'loraLinear', 'loraLinearBackward', 'loraGradA', 'int8Linear']) {
      const f = k[name]!;
      saved.set(name, f);
      k[name] = (...args: unknown[]) => (calls.push(name), f(...args));
    }
    try {
      withBackend(gpu, () => {
        const base = new Linear(12, 7);
        const model = new Wrap(base);
        applyLora(model, { r: 4, alpha: 8, dropout: 0.1, targetModules: ['proj'], bias: 'none' }, 5);
        model.train(true);
        const x = new Tensor(gpu.upload(randValues(3 * 12, 1), [3, 12], 'f32'), gpu, true);
        tidy(() => backward(ops.sum(model.forward(x))));
        assert.deepEqual(calls, ['loraProject', 'loraLinear', 'loraProject', 'loraLinearBackward', 'loraGradA']);
        calls.length = 0;
        const q = new Wrap(new Int8LinearModule(Int8Linear.fromLinear(base.weight, base.bias)));
        applyLora(q, { r: 4, alpha: 8, dropout: 0.1, targetModules: ['proj'], bias: 'none' }, 5);
        tidy(() => void q.forward(x));
        assert.deepEqual(calls, ['loraProject', 'int8Linear']);
        x.dispose();
        model.dispose();
        q.dispose();
      });
    } finally {
      for (const [name, f] of saved) k[name] = f;
    }
  });

  it('rejects mismatched A/B shapes with ShapeError', async () => {
    const { cpu } = await getBackends();
    const t = (shape: number[]) => new Tensor(cpu.full(shape, 'f32', 1), cpu);
    assert.throws(() => loraLinear(t([2, 4]), t([3, 4]), null, t([2, 5]), t([3, 2]), { alpha: 1 }), /loraLinear/);
    assert.throws(() => loraLinear(t([2, 4]), t([3, 4]), null, t([2, 4]), t([6, 2]), { alpha: 1 }), /loraLinear/);
    assert.ok(loraLinearComposed(t([2, 4]), t([3, 4]), null, t([2, 4]), t([3, 2]), { alpha: 1 }).shape.join() === '2,3');
  });
});

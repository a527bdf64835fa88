/**
 * softmax / logSoftmax: WGSL forward and backward against the float64 CPU reference on random
 * shapes (rows of 1, odd lengths, lengths beyond one workgroup, a 42,384-wide vocabulary), CPU
 * backward against central differences, stability for huge logits, f16 variants.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu, gpu } from '../../src/gpu/device.js';
import { softmax, logSoftmax } from '../../src/ops/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, ErrorLog } from '../helpers/compare.js';
import { checkOp, forEachKernelStyle, getBackends, property, randValues, seedArb, shapeArb } from '../helpers/ops_harness.js';

const log = new ErrorLog();
after(async () => {
  console.log(log.summary());
  await shutdownGpu();
});

/** Leading dims (possibly none) times a last axis of interesting lengths. */
const rowShapeArb = (lens: readonly number[], maxNumel: number) =>
  fc.tuple(shapeArb(0, 2, 64, [1, 2, 3, 5]), fc.constantFrom(...lens)).map(([lead, len]) => [...lead, len]).filter((s) => s.reduce((a, b) => a * b, 1) <= maxNumel);

const LENS = [1, 2, 7, 64, 255, 257, 1031];
const TOL = { fwd: { rtol: 2e-5, atol: 1e-6 }, bwd: { rtol: 1e-4, atol: 1e-6 } };

const fns: Array<[string, (x: Tensor) => Tensor]> = [
  ['softmax', softmax],
  ['logSoftmax', logSoftmax],
];

describe('softmax family', () => {
  for (const [name, fn] of fns) {
    it(`${name}: WGSL = CPU, CPU backward = finite differences (random shapes and values)`, async () => {
      await property(fc.tuple(rowShapeArb(LENS, 6000), seedArb, fc.constantFrom(1, 4, 30)), async ([shape, seed, scale]) => {
        const n = shape.reduce((a, b) => a * b, 1);
        await checkOp(`${name} [${shape}] scale ${scale}`, fn, [{ data: randValues(n, seed, -scale, scale), shape }], {
          ...TOL, fd: { maxElements: 10 }, log: log.grouped(`${name} random`),
        });
      }, 25);
    });
  }

  it('long rows (vocabulary 42,384): forward and backward match the CPU', async () => {
    const shape = [2, 42384];
    for (const [name, fn] of fns) {
      await checkOp(`${name} [${shape}]`, fn, [{ data: randValues(2 * 42384, 5, -8, 8), shape }], {
        ...TOL,
        // L = Σ w·y sums 85k terms: a larger step keeps float64 cancellation (~|L|·1e-16/eps) small.
        fd: { maxElements: 4, eps: 1e-4, atol: 1e-5 },
        log: log.grouped(`${name} V=42384`),
      });
    }
  });

  it('huge logits (±1e4) stay finite and match the CPU', async () => {
    const len = 300;
    const data = randValues(3 * len, 11, -1e4, 1e4);
    data[5] = 1e4;
    data[len + 7] = -1e4;
    for (const [name, fn] of fns) {
      await checkOp(`${name} huge`, fn, [{ data, shape: [3, len] }], { fwd: { rtol: 2e-5, atol: 1e-5 }, bwd: { rtol: 1e-4, atol: 1e-5 }, fd: false, log: log.grouped(`${name} ±1e4`) });
    }
    const { gpu: g } = await getBackends();
    const y = await g.read(g.softmax(g.upload([1e4, -1e4, 1e4, 0], [4], 'f32')));
    assertClose(y, [0.5, 0, 0.5, 0], { atol: 1e-7, label: 'softmax of ±1e4' });
    const l = await g.read(g.logSoftmax(g.upload([1e4, -1e4], [2], 'f32')));
    assertClose(l, [0, -2e4], { rtol: 1e-6, label: 'logSoftmax of ±1e4' });
  });

  it('rows of -inf entries (masked) get probability 0', async () => {
    const { gpu: g, cpu } = await getBackends();
    const x = [0, -Infinity, 1, -Infinity];
    for (const be of [g, cpu]) {
      const y = await be.read(be.softmax(be.upload(x, [4], 'f32')));
      assertClose(y, [1 / (1 + Math.E), 0, Math.E / (1 + Math.E), 0], { rtol: 1e-6, label: `${be.name} softmax with -inf` });
    }
  });

  it('f16 variants agree with the CPU within f16 precision', async (t) => {
    if (!gpu().caps.f16) return t.skip('adapter lacks shader-f16');
    const { gpu: g, cpu } = await getBackends();
    const shape = [5, 257];
    const x = randValues(5 * 257, 3, -4, 4);
    const dy = randValues(5 * 257, 4, -1, 1);
    // Both kernel selections (thread-per-row and workgroup-per-row), like checkOp.
    await forEachKernelStyle(async (style) => {
      for (const log_ of [false, true]) {
        const f = (be: typeof g, dt: 'f16' | 'f32') => {
          const xr = be.upload(x, shape, dt);
          const y = log_ ? be.logSoftmax(xr) : be.softmax(xr);
          const dx = log_ ? be.logSoftmaxBackward(y, be.upload(dy, shape, dt)) : be.softmaxBackward(y, be.upload(dy, shape, dt));
          return { y, dx };
        };
        const a = f(g, 'f16');
        const b = f(cpu, 'f32');
        assert.equal(a.y.dtype, 'f16');
        log.add('f16 fwd', assertClose(await g.read(a.y), await cpu.read(b.y), { rtol: 4e-3, atol: 2e-3, label: `f16 ${log_ ? 'logSoftmax' : 'softmax'} [${style}]` }));
        log.add('f16 bwd', assertClose(await g.read(a.dx), await cpu.read(b.dx), { rtol: 1e-2, atol: 3e-3, label: `f16 ${log_ ? 'logSoftmax' : 'softmax'} backward [${style}]` }));
      }
    });
  });

  it('rejects mismatched y/dy and non-float inputs with typed errors', async () => {
    const { gpu: g, cpu } = await getBackends();
    for (const be of [g, cpu]) {
      assert.throws(() => be.softmaxBackward(be.upload([1, 2], [2], 'f32'), be.upload([1, 2, 3], [3], 'f32')), /softmaxBackward: argument 'dy' expected shape \[2\]/);
      assert.throws(() => be.softmax(be.upload([1, 2], [2], 'i32')), /softmax: argument 'x' expected a float tensor/);
    }
  });
});

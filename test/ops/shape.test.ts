/**
 * Property tests of the shape ops: reshape, transpose/permute, slice, concat, split, expand,
 * unsqueeze/squeeze on random shapes (size-1 axes, odd sizes). Forward results are copies, so the
 * WGSL strided-copy kernel must match the CPU exactly; gradients are inverse copies (exact) or sums
 * (expand: rtol 1e-4 / atol 1e-4). CPU gradients vs central finite differences.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu } from '../../src/gpu/device.js';
import * as ops from '../../src/ops/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { numel } from '../../src/backend/types.js';
import { ShapeError } from '../../src/errors.js';
import { broadcastableTo, checkOp, getBackends, property, randValues, seedArb, shapeArb, TOL_ACCUM, type Tol } from '../helpers/ops_harness.js';

after(() => shutdownGpu());

const EXACT: Tol = { rtol: 0, atol: 0 };
const opts = { fwd: EXACT, bwd: EXACT };
const input = (s: readonly number[], seed: number) => ({ data: randValues(numel(s), seed), shape: s });

describe('shape ops', () => {
  it('reshape to permuted dims, with inserted 1s and an inferred -1', async () => {
    const arb = shapeArb(0, 4, 4096).chain((s) =>
      fc.tuple(
        fc.constant(s),
        fc.shuffledSubarray(s, { minLength: s.length, maxLength: s.length }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: -1, max: 4 }),
        seedArb,
      ),
    );
    await property(arb, async ([s, perm, ones, inferAt, seed]) => {
      const target: number[] = [...perm];
      for (let k = 0; k < ones; k++) target.splice(Math.min(k, target.length), 0, 1);
      if (inferAt >= 0 && inferAt < target.length && numel(target) > 0) target[inferAt] = -1;
      await checkOp(`reshape [${s}] -> [${target}]`, (x) => ops.reshape(x, target), [input(s, seed)], opts);
    });
  });

  it('permute by a random permutation; transpose of two random axes', async () => {
    const arb = shapeArb(1, 4, 4096).chain((s) =>
      fc.tuple(
        fc.constant(s),
        fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length }),
        fc.integer({ min: -s.length, max: s.length - 1 }),
        fc.integer({ min: -s.length, max: s.length - 1 }),
        seedArb,
      ),
    );
    await property(arb, async ([s, perm, a, b, seed]) => {
      await checkOp(`permute [${s}] by [${perm}]`, (x) => ops.permute(x, perm), [input(s, seed)], opts);
      await checkOp(`transpose [${s}] ${a} ${b}`, (x) => ops.transpose(x, a, b), [input(s, seed)], opts);
    });
  });

  it('slice with random starts and sizes (sizes -1 = to the end)', async () => {
    const arb = shapeArb(1, 4, 4096).chain((s) =>
      fc.tuple(
        fc.constant(s),
        fc.tuple(...s.map((d) => fc.integer({ min: 0, max: d }).chain((st) => fc.tuple(fc.constant(st), fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: d - st })))))),
        seedArb,
      ),
    );
    await property(arb, async ([s, ss, seed]) => {
      const starts = ss.map(([st]) => st);
      const sizes = ss.map(([, sz]) => sz);
      await checkOp(`slice [${s}] at [${starts}] size [${sizes}]`, (x) => ops.slice(x, starts, sizes), [input(s, seed)], opts);
    });
  });

  it('concat of 1-3 tensors along a random axis', async () => {
    const arb = shapeArb(1, 4, 2048).chain((s) =>
      fc.tuple(
        fc.constant(s),
        fc.integer({ min: 0, max: s.length - 1 }),
        fc.array(fc.constantFrom(1, 2, 3, 17), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        seedArb,
      ),
    );
    await property(arb, async ([s, axis, lens, negAxis, seed]) => {
      const shapes = lens.map((l) => s.map((d, i) => (i === axis ? l : d)));
      const ax = negAxis ? axis - s.length : axis;
      await checkOp(`concat [${shapes.map((x) => `[${x}]`)}] axis ${ax}`, (...xs: Tensor[]) => ops.concat(xs, ax), shapes.map((x, i) => input(x, seed + i)), opts);
    });
  });

  it('split into random pieces: each piece, and the pieces concatenated in reverse', async () => {
    const arb = shapeArb(1, 3, 2048).chain((s) =>
      fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 })).chain(([s2, axis]) =>
        fc.tuple(
          fc.constant(s2),
          fc.constant(axis),
          fc.array(fc.integer({ min: 1, max: s2[axis]! }), { minLength: 1, maxLength: 3 }).map((cuts) => {
            // Random cut points → piece sizes summing to the axis length.
            const pts = [...new Set([0, ...cuts.map((c) => c % s2[axis]!), s2[axis]!])].sort((x, y) => x - y);
            return pts.slice(1).map((p, i) => p - pts[i]!);
          }),
          seedArb,
        ),
      ),
    );
    await property(arb, async ([s, axis, sizes, seed]) => {
      for (let k = 0; k < sizes.length; k++) {
        await checkOp(`split [${s}] [${sizes}] axis ${axis} piece ${k}`, (x) => ops.split(x, sizes, axis)[k]!, [input(s, seed)], opts);
      }
      await checkOp(`split+concat [${s}] [${sizes}] axis ${axis}`, (x) => ops.concat(ops.split(x, sizes, axis).reverse(), axis), [input(s, seed)], opts);
    }, 15);
  });

  it('expand from a broadcastable shape (gradient summed back)', async () => {
    const arb = shapeArb(0, 4, 4096).chain((s) => fc.tuple(fc.constant(s), broadcastableTo(s), seedArb));
    await property(arb, async ([s, src, seed]) => {
      await checkOp(`expand [${src}] -> [${s}]`, (x) => ops.expand(x, s), [input(src, seed)], { fwd: EXACT, bwd: TOL_ACCUM });
    });
  });

  it('unsqueeze at a random axis, then squeeze it again', async () => {
    const arb = shapeArb(0, 4, 2048).chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: -s.length - 1, max: s.length }), seedArb));
    await property(arb, async ([s, axis, seed]) => {
      await checkOp(`unsqueeze [${s}] ${axis}`, (x) => ops.unsqueeze(x, axis), [input(s, seed)], opts);
      await checkOp(`squeeze(unsqueeze) [${s}] ${axis}`, (x) => ops.squeeze(ops.unsqueeze(x, axis), axis), [input(s, seed)], opts);
    });
  });

  it('bad shapes throw ShapeError naming the op', async () => {
    await getBackends();
    const x = ops.zeros([2, 3]);
    assert.throws(() => ops.reshape(x, [4, 2]), (e: unknown) => e instanceof ShapeError && /reshape/.test(e.message));
    assert.throws(() => ops.slice(x, [1, 0], [2, 3]), (e: unknown) => e instanceof ShapeError && /slice/.test(e.message));
    assert.throws(() => ops.concat([x, ops.zeros([3, 3])], 1), (e: unknown) => e instanceof ShapeError && /concat/.test(e.message));
    assert.throws(() => ops.split(x, [1, 1], 1), (e: unknown) => e instanceof ShapeError && /split/.test(e.message));
    assert.throws(() => ops.expand(x, [2, 4]), (e: unknown) => e instanceof ShapeError && /expand/.test(e.message));
    assert.throws(() => ops.squeeze(x, 0), (e: unknown) => e instanceof ShapeError && /squeeze/.test(e.message));
  });
});

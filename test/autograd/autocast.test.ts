/**
 * autocast('f16') (torch.autocast semantics) on WebGPU with shader-f16: scopes nest and restore,
 * the lower-precision list (matmul, linear) produces f16 and the float32 list (softmax, log-softmax,
 * layer norm, cross-entropy, sum, mean) f32, f16 + f32 promotes to f32, casts are autograd ops
 * (f16 leaves get f16 gradients, f32 master weights f32 ones, values within f16 tolerance of the
 * f32 gradients), a parameter is cast once per scope, and an f16 gradient really overflows to inf.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu, gpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import '../../src/ops/index.js';
import { backward } from '../../src/autograd/tape.js';
import { autocast, autocastDtype, autocastEnter, autocastExit, isAutocastEnabled } from '../../src/autograd/autocast.js';
import { tidy } from '../../src/tensor/scope.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { randNormal, tensor } from '../../src/ops/creation.js';
import { add, affine, cast, gelu, mul } from '../../src/ops/elementwise.js';
import { matmul } from '../../src/ops/matmul.js';
import { mean, sum } from '../../src/ops/reduce.js';
import { crossEntropy, layerNorm, logSoftmax, softmax } from '../../src/ops/nn/index.js';
import { linear } from '../../src/nn/linear.js';
import { maxRelErr } from '../helpers/compare.js';

let be: Backend;
let f16 = false;
before(async () => {
  be = await initWebGpuBackend();
  f16 = gpu().caps.f16;
});
after(async () => {
  await shutdownGpu();
});

const param = (t: Tensor, name: string): Tensor => {
  t.requiresGrad_(true).name = name;
  return t;
};

describe('autocast scopes', () => {
  it('is off by default, nests, turns off with null and restores on exceptions', () => {
    assert.equal(autocastDtype(), null);
    autocast('f16', () => {
      assert.equal(autocastDtype(), 'f16');
      autocast(null, () => assert.equal(isAutocastEnabled(), false));
      autocast('f16', () => assert.equal(autocastDtype(), 'f16'));
      assert.equal(autocastDtype(), 'f16');
    });
    assert.equal(autocastDtype(), null);
    assert.throws(() => autocast('f16', () => { throw new Error('boom'); }), /boom/);
    assert.equal(autocastDtype(), null);
    const s = autocastEnter('f16');
    assert.equal(autocastDtype(), 'f16');
    autocastExit(s);
    assert.equal(autocastDtype(), null);
    assert.throws(() => autocastEnter('bf16' as never), /autocast/);
  });
});

describe('autocast f16 ops (WebGPU)', () => {
  it('dtypes follow the lower-precision and float32 lists; f16 + f32 promotes to f32', (t) => {
    if (!f16) return t.skip("adapter lacks 'shader-f16'");
    withBackend(be, () => tidy(() => {
      const a = randNormal([5, 7], 1);
      const w = randNormal([3, 7], 2);
      const bias = randNormal([3], 3);
      // Outside a scope nothing changes.
      assert.equal(matmul(a, w, { transB: true }).dtype, 'f32');
      autocast('f16', () => {
        const y = matmul(a, w, { transB: true });
        assert.equal(y.dtype, 'f16', 'matmul');
        assert.equal(linear(a, w, bias).dtype, 'f16', 'linear (bias joins in f16)');
        assert.equal(gelu(y).dtype, 'f16', 'gelu keeps its input dtype');
        assert.equal(affine(y, 2, 1).dtype, 'f16');
        assert.equal(softmax(y).dtype, 'f32', 'softmax');
        assert.equal(logSoftmax(y).dtype, 'f32', 'logSoftmax');
        assert.equal(layerNorm(y, null, null).dtype, 'f32', 'layerNorm');
        assert.equal(sum(y).dtype, 'f32', 'sum');
        assert.equal(mean(y, 1).dtype, 'f32', 'mean');
        assert.equal(crossEntropy(y, tensor([0, 1, 2, 1, 0], [5], { dtype: 'i32' })).dtype, 'f32', 'crossEntropy');
        assert.equal(add(y, randNormal([5, 3], 4)).dtype, 'f32', 'f16 + f32');
        assert.equal(mul(randNormal([5, 3], 4), y).dtype, 'f32', 'f32 * f16');
        assert.equal(add(y, tensor(2)).dtype, 'f16', 'a 0-d f32 tensor does not promote f16 [5, 3]');
        assert.equal(matmul(cast(a, 'f16'), cast(w, 'f16'), { transB: true }).dtype, 'f16');
      });
      // Mixed dtypes promote without autocast too (torch's rule is not an autocast feature).
      assert.equal(add(cast(a, 'f16'), a).dtype, 'f32');
    }));
  });

  it('values are within f16 tolerance of f32 (matmul, softmax, layer norm, loss)', async (t) => {
    if (!f16) return t.skip("adapter lacks 'shader-f16'");
    await withBackend(be, async () => {
      const x = randNormal([13, 37], 5);
      const w = randNormal([37, 29], 6);
      const tg = tensor(Array.from({ length: 13 }, (_, i) => (i * 7) % 29), [13], { dtype: 'i32' });
      const f = () => {
        const h = matmul(x, w);
        return { h, p: softmax(h), n: layerNorm(h, null, null), l: crossEntropy(h, tg) };
      };
      const want = f();
      const got = autocast('f16', f);
      // Inputs rounded to f16 (rel 2^-11 each) and an f32-accumulated dot product of 37 terms.
      assert.ok(maxRelErr(await got.h.data(), await want.h.data()) < 2e-3, 'matmul');
      assert.ok(maxRelErr(await got.p.data(), await want.p.data()) < 5e-3, 'softmax');
      assert.ok(maxRelErr(await got.n.data(), await want.n.data()) < 5e-3, 'layerNorm');
      assert.ok(Math.abs((await got.l.item()) - (await want.l.item())) < 5e-3 * (await want.l.item()), 'loss');
      for (const r of [x, w, tg, ...Object.values(want), ...Object.values(got)]) r.dispose();
    });
  });

  it('casts are autograd ops: f16 leaves get f16 gradients, f32 master weights f32, values match f32', async (t) => {
    if (!f16) return t.skip("adapter lacks 'shader-f16'");
    await withBackend(be, async () => {
      const x16 = cast(randNormal([6, 10], 7), 'f16').requiresGrad_(true);
      const w = param(randNormal([4, 10], 8), 'w');
      const b = param(randNormal([4], 9), 'b');
      const w2 = param(randNormal([4, 10], 8), 'w2');
      const b2 = param(randNormal([4], 9), 'b2');
      const x32 = cast(x16, 'f32').detach().requiresGrad_(true);
      tidy(() => {
        const loss = autocast('f16', () => mean(gelu(linear(x16, w, b))));
        assert.equal(loss.dtype, 'f32');
        backward(mul(loss, 1024));
      });
      tidy(() => backward(mul(mean(gelu(linear(x32, w2, b2))), 1024)));
      assert.equal(x16.grad!.dtype, 'f16');
      assert.equal(w.grad!.dtype, 'f32');
      assert.equal(b.grad!.dtype, 'f32');
      assert.ok(maxRelErr(await w.grad!.data(), await w2.grad!.data()) < 5e-3, 'dW');
      assert.ok(maxRelErr(await b.grad!.data(), await b2.grad!.data()) < 5e-3, 'db');
      assert.ok(maxRelErr(await x16.grad!.data(), await x32.grad!.data()) < 5e-3, 'dx');
      for (const r of [x16, w, b, w2, b2, x32]) r.dispose();
    });
  });

  it('casts a parameter once per outermost scope (tied uses share it; gradients accumulate)', async (t) => {
    if (!f16) return t.skip("adapter lacks 'shader-f16'");
    await withBackend(be, async () => {
      const w = param(randNormal([4, 4], 10), 'w');
      const x = randNormal([3, 4], 11);
      tidy(() => {
        const [y1, y2] = autocast('f16', () => [matmul(x, w), matmul(x, w, { transB: true })]);
        assert.ok(y1.node && y2.node);
        assert.equal(y1.node.inputs[1], y2.node.inputs[1], 'the same f16 cast of w');
        assert.equal(y1.node.inputs[1]!.dtype, 'f16');
        const [z] = autocast('f16', () => [matmul(x, w)]);
        assert.notEqual(z.node!.inputs[1], y1.node.inputs[1], 'a new scope casts again');
        backward(add(sum(y1), sum(y2)));
      });
      // d/dw Σ(x·w) + Σ(x·wᵀ): column sums of x broadcast along rows, plus their transpose.
      const xs = await sum(x, 0).data();
      const g = await w.grad!.data();
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) assert.ok(Math.abs(g[i * 4 + j]! - (xs[i]! + xs[j]!)) < 1e-2 * (1 + Math.abs(xs[i]! + xs[j]!)));
      w.dispose();
      x.dispose();
    });
  });

  it('an f16 gradient overflows to inf (what the loss scaler must catch); f32 does not', async (t) => {
    if (!f16) return t.skip("adapter lacks 'shader-f16'");
    await withBackend(be, async () => {
      const w = param(randNormal([8, 8], 12), 'w');
      const x = randNormal([4, 8], 13);
      // sum() is on the float32 list, so its gradient 1e6 is f32 until the cast back to f16 (max 65504).
      tidy(() => backward(mul(autocast('f16', () => sum(matmul(x, w))), 1e6)));
      const g16 = await w.grad!.data();
      assert.ok(g16.some((v) => !Number.isFinite(v)), 'overflowed');
      w.grad!.dispose();
      w.grad = null;
      tidy(() => backward(mul(sum(matmul(x, w)), 1e6)));
      assert.ok((await w.grad!.data()).every((v) => Number.isFinite(v)), 'f32 path finite');
      w.dispose();
      x.dispose();
    });
  });
});

/** loraLinear (src/ops/lora_linear.ts): WGSL vs the float64 reference, forward and gradients to x, A, B; int8 base vs unfused ops. */
import { after, describe, it } from 'node:test';
import { shutdownGpu } from '../../src/gpu/device.js';
import { loraLinear } from '../../src/ops/lora_linear.js';
import { matmulInt8, quantizeWeight } from '../../src/ops/matmul_int8.js';
import * as ops from '../../src/ops/index.js';
import { checkOp, randValues, TOL_ACCUM } from '../helpers/ops_harness.js';
import { assertClose } from '../helpers/compare.js';
import { getBackends, runOn } from '../helpers/ops_harness.js';

after(() => shutdownGpu());

describe('loraLinear', () => {
  it('f32 base with dropout: GPU vs CPU, gradients to x, A, B', async () => {
    const [N, I, O, r] = [5, 17, 9, 4];
    await checkOp('lora f32', (x, w, bias, a, b) => loraLinear(x, w, bias, a, b, { alpha: 8, dropout: 0.2, seed: 3 }), [
      { data: randValues(N * I, 1), shape: [N, I] }, { data: randValues(O * I, 2), shape: [O, I], requiresGrad: false },
      { data: randValues(O, 3), shape: [O], requiresGrad: false },
      { data: randValues(r * I, 4), shape: [r, I] }, { data: randValues(O * r, 5), shape: [O, r] },
    ], { fwd: TOL_ACCUM, bwd: TOL_ACCUM, fd: false });
  });
  it('int8 base equals int8 linear + unfused LoRA branch', async () => {
    const { gpu } = await getBackends();
    const [N, I, O, r] = [6, 19, 11, 2];
    const inputs = [
      { data: randValues(N * I, 1, -3, 3), shape: [N, I] }, { data: randValues(O * I, 2), shape: [O, I], requiresGrad: false },
      { data: randValues(r * I, 4), shape: [r, I] }, { data: randValues(O * r, 5), shape: [O, r] },
    ];
    const w = randValues(N * O, 9);
    const fused = await runOn(gpu, (x, wt, a, b) => loraLinear(x, quantizeWeight(wt), null, a, b, { alpha: 4 }), inputs, w);
    const unfused = await runOn(gpu, (x, wt, a, b) => ops.add(matmulInt8(x, quantizeWeight(wt)), ops.mul(ops.matmul(ops.matmul(x, a, { transB: true }), b, { transB: true }), 2)), inputs, w);
    assertClose(fused.out, unfused.out, { rtol: 1e-5, atol: 1e-5 });
    for (const k of [0, 2, 3]) assertClose(fused.grads[k]!, unfused.grads[k]!, { rtol: 1e-5, atol: 1e-5 });
  });
});

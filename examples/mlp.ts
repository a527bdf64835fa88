import { initWebGpuBackend, shutdownGpu, tensor, randNormal, zeros, matmul, add, gelu, mean, square, sub, backward, tidy, AdamW } from 'radgrad';
await initWebGpuBackend();
const xs = Array.from({ length: 64 * 4 }, (_, i) => Math.sin(1.7 * i)); // 64 points, 4 features
const x = tensor(xs, [64, 4]);
const y = tensor(Array.from({ length: 64 }, (_, i) => xs[4 * i] * xs[4 * i + 1] - xs[4 * i + 2]), [64, 1]);
const [w1, b1] = [randNormal([4, 32], 1, 0, 0.5, { requiresGrad: true }), zeros([32], { requiresGrad: true })];
const [w2, b2] = [randNormal([32, 1], 2, 0, 0.2, { requiresGrad: true }), zeros([1], { requiresGrad: true })];
const opt = new AdamW([w1, b1, w2, b2], { lr: 1e-2, paramGroups: [{ params: [b1, b2], weightDecay: 0 }] });
for (let step = 0; step <= 200; step++) {
  const loss = tidy(() => { // every temporary of the step is released at the end of tidy()
    const l = mean(square(sub(add(matmul(gelu(add(matmul(x, w1), b1)), w2), b2), y)));
    backward(l);
    opt.step();
    opt.zeroGrad();
    return l;
  });
  if (step % 50 === 0) console.log(`step ${step}: loss ${(await loss.item()).toPrecision(3)}`);
  loss.dispose();
}
await shutdownGpu();

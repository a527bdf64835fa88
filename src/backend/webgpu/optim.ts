/** Optimizer kernels: sum of squares over many tensors (global-norm clipping) and a fused AdamW step. */
import type { GpuContext } from '../../gpu/device.js';
import { alloc, bufferOf, forRowChunks, grid, launch, variants, WG } from './common.js';
import { checkFloat, adamwScalars, checkAdamW } from '../nn_checks.js';
import { numel, type AdamWHyper, type Backend, type DType, type RawTensor } from '../types.js';

/** Most workgroups per tensor in the partial pass; larger tensors grid-stride. */
const MAX_GROUPS = 256;
/** Elements per thread before another workgroup is worth launching. */
const ITEMS = 4;

const sumSquaresKernel = variants((t: DType) => ({
  name: `optim_sum_squares_${t}`, family: 'optim', file: 'sum_squares',
  bindings: [{ name: 'x', type: 'T', access: 'read' as const }, { name: 'partials', type: 'f32', access: 'read_write' as const }],
  uniforms: { n: 'u32' as const, groups: 'u32' as const, offset: 'u32' as const },
  overrides: { WG: { type: 'u32' as const, value: WG } },
  aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [],
}));

const sumPartialsKernel = {
  name: 'optim_sum_partials', family: 'optim', file: 'sum_partials',
  bindings: [{ name: 'partials', type: 'f32', access: 'read' as const }, { name: 'out', type: 'f32', access: 'read_write' as const }],
  uniforms: { count: 'u32' as const },
  overrides: { WG: { type: 'u32' as const, value: WG } },
};

const adamwKernel = variants((key: string) => {
  const [p, g] = key.split('/') as [DType, DType];
  return {
    name: `optim_adamw_${p}_${g}`, family: 'optim', file: 'adamw',
    bindings: [
      { name: 'param', type: 'P', access: 'read_write' as const },
      { name: 'grad', type: 'G', access: 'read' as const },
      { name: 'm_buf', type: 'f32', access: 'read_write' as const },
      { name: 'v_buf', type: 'f32', access: 'read_write' as const },
    ],
    uniforms: {
      n: 'u32' as const, grad_scale: 'f32' as const, decay: 'f32' as const, one_minus_beta1: 'f32' as const,
      beta2: 'f32' as const, one_minus_beta2: 'f32' as const, eps: 'f32' as const, bc2_sqrt: 'f32' as const, step_size: 'f32' as const,
    },
    overrides: { WG: { type: 'u32' as const, value: WG } },
    aliases: { P: p, G: g }, enables: p === 'f16' || g === 'f16' ? ['f16'] : [], includes: ['common/strided.wgsl'],
  };
});

export function optimOps(ctx: GpuContext): Pick<Backend, 'sumSquares' | 'adamw'> {
  return {
    sumSquares(xs) {
      for (const [i, x] of xs.entries()) checkFloat('sumSquares', `xs[${i}]`, x);
      const out = alloc(ctx, [1], 'f32', 'sumSquares');
      // A tensor over the binding limit contributes one entry per window.
      const plan: Array<{ x: RawTensor; n: number; groups: number }> = [];
      for (const x of xs) {
        forRowChunks(ctx, 'sumSquares', numel(x.shape), [{ x, per: 1 }], (_, n, [w]) => {
          plan.push({ x: w!, n, groups: Math.min(MAX_GROUPS, Math.ceil(n / (WG * ITEMS))) });
        });
      }
      const count = plan.reduce((s, p) => s + p.groups, 0);
      // Zero-size tensors contribute no partials; with none at all the final pass still writes 0.
      const partials = ctx.pool.acquire(Math.max(1, count) * 4, 'storage', 'sumSquares');
      let offset = 0;
      for (const p of plan) {
        if (p.groups === 0) continue;
        launch(ctx, sumSquaresKernel(p.x.dtype), {
          bindings: { x: bufferOf(p.x), partials },
          uniforms: { n: p.n, groups: p.groups, offset },
          workgroups: [p.groups],
        });
        offset += p.groups;
      }
      launch(ctx, sumPartialsKernel, { bindings: { partials, out: bufferOf(out) }, uniforms: { count }, workgroups: [1] });
      ctx.pool.release(partials);
      return out;
    },
    adamw(param, grad, m, v, h) {
      checkAdamW(param, grad, m, v, h);
      const n = numel(param.shape);
      const s = adamwScalars(h);
      const parts = [param, grad, m, v].map((x) => ({ x, per: 1 }));
      forRowChunks(ctx, 'adamw', n, parts, (_, c, [pc, gc, mc, vc]) => {
        launch(ctx, adamwKernel(`${param.dtype}/${grad.dtype}`), {
          bindings: { param: bufferOf(pc!), grad: bufferOf(gc!), m_buf: bufferOf(mc!), v_buf: bufferOf(vc!) },
          uniforms: {
            n: c, grad_scale: h.gradScale, decay: s.decay, one_minus_beta1: 1 - h.beta1, beta2: h.beta2,
            one_minus_beta2: 1 - h.beta2, eps: h.eps, bc2_sqrt: s.bc2Sqrt, step_size: s.stepSize,
          },
          workgroups: grid(c),
        });
      });
    },
  };
}

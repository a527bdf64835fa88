/**
 * Batched 2-D transpose through 4×4 blocks (shaders/layout/transpose.wgsl): used by matmul to
 * re-lay an operand for a faster kernel (bench/matmul.bench.ts: transpose_ms vs copy_ms, the same
 * transpose through the general strided copy).
 */
import type { GpuContext } from '../../gpu/device.js';
import { alloc, bufferOf, launch, variants } from './common.js';
import { layoutOps } from './layout.js';
import { numel, type RawTensor } from '../types.js';

/**
 * Invocations per workgroup along the columns (x) and rows (y) of the source, 4×4 elements each.
 * On lavapipe the lanes run along y, so neighbouring lanes write neighbouring 16-byte runs of a
 * dst row: 1×16 to 4×64 all took 12–17 ms for a [4096, 1024] f32 matrix, 8×8 and 16×4 (lanes
 * along the src rows) 40–60 ms, the strided copy ≈ 200 ms.
 */
export const TRANSPOSE_TILES = { WX: 1, WY: 64 } as const;

// 32-bit types share one kernel (bits are moved); f16 needs its own element type.
const transposeKernel = variants((t: 'u32' | 'f16') => ({
  name: `transpose_${t}`, family: 'layout', file: 'transpose',
  bindings: [{ name: 'src', type: 'T', access: 'read' as const }, { name: 'dst', type: 'T', access: 'read_write' as const }],
  uniforms: { rows: 'u32' as const, cols: 'u32' as const },
  overrides: { WX: { type: 'u32' as const, value: TRANSPOSE_TILES.WX }, WY: { type: 'u32' as const, value: TRANSPOSE_TILES.WY } },
  aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [],
}));

const LIMIT = 65535;

/** transpose(x, r, c): every [r, c] matrix of x (batch dims flattened) as a contiguous [nb, c, r] tensor. */
export function transposeOps(ctx: GpuContext): { transpose(x: RawTensor, r: number, c: number): RawTensor } {
  const layout = layoutOps(ctx);
  return {
    transpose(x, r, c) {
      const nb = r * c === 0 ? 0 : numel(x.shape) / (r * c);
      const gx = Math.ceil(c / (4 * TRANSPOSE_TILES.WX));
      const gy = Math.ceil(r / (4 * TRANSPOSE_TILES.WY));
      // Beyond the dispatch limit (never at model sizes): the general strided copy.
      if (gx > LIMIT || gy > LIMIT || nb > LIMIT) return layout.stridedCopy(x, { offset: 0, strides: [r * c, 1, c] }, [nb, c, r]);
      const out = alloc(ctx, [nb, c, r], x.dtype, 'transpose');
      if (numel(x.shape) > 0) {
        launch(ctx, transposeKernel(x.dtype === 'f16' ? 'f16' : 'u32' as const), {
          bindings: { src: bufferOf(x), dst: bufferOf(out) }, uniforms: { rows: r, cols: c }, workgroups: [gx, gy, nb],
        });
      }
      return out;
    },
  };
}


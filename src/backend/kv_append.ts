/** Shape and dtype checks of Backend.kvAppend, shared by the WebGPU kernel and the CPU reference. */
import { OpArgumentError, ShapeError } from '../errors.js';
import type { RawTensor } from './types.js';

export interface KvAppendDims {
  B: number;
  H: number;
  P: number;
  T: number;
  D: number;
}

/** past [B, H, P, D] (keys and values alike), x [B, T, H·D] (keys and values alike), one dtype. */
export function kvAppendDims(pastK: RawTensor, pastV: RawTensor, xk: RawTensor, xv: RawTensor): KvAppendDims {
  const op = 'kvAppend';
  if (pastK.shape.length !== 4) throw new ShapeError(op, 'pastK', 'rank 4 [B, H, P, D]', `[${pastK.shape}]`);
  const [B, H, P, D] = pastK.shape as [number, number, number, number];
  if (xk.shape.length !== 3 || xk.shape[0] !== B || xk.shape[2] !== H * D) throw new ShapeError(op, 'xk', `[${B}, T, ${H * D}]`, `[${xk.shape}]`);
  const T = xk.shape[1]!;
  if (pastV.shape.join() !== pastK.shape.join()) throw new ShapeError(op, 'pastV', `[${pastK.shape}]`, `[${pastV.shape}]`);
  if (xv.shape.join() !== xk.shape.join()) throw new ShapeError(op, 'xv', `[${xk.shape}]`, `[${xv.shape}]`);
  for (const [name, t] of [['pastV', pastV], ['xk', xk], ['xv', xv]] as const) {
    if (t.dtype !== pastK.dtype) throw new OpArgumentError(op, name, `dtype ${pastK.dtype}`, t.dtype);
  }
  return { B, H, P, T, D };
}

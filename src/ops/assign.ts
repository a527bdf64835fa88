/**
 * assign(dst, src): the in-place update of optimizer-style code (torch's `with no_grad():
 * p.copy_(new)`). dst's storage is overwritten, so whoever holds dst — a module, an optimizer, a
 * closure, a reshape()/detach() sharing its storage — sees the new values; no tensor is allocated.
 */
import { AutogradError, isGradEnabled } from '../autograd/tape.js';
import { contiguousStrides } from '../backend/types.js';
import { OpArgumentError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * Copies src into dst in place and returns dst. src must have dst's shape and dtype (no broadcast,
 * no cast: ShapeError / OpArgumentError) and live on its backend. The write is not recorded on the
 * tape: with grad mode on, a dst or src that requires grad throws AutogradError (torch: "a leaf
 * Variable that requires grad is being used in an in-place operation"), so run updates of
 * parameters inside noGrad(). The write bumps dst's version (shared by every alias of its storage),
 * so a recorded backward that reads dst — saved before this write — throws AutogradError at
 * backward() instead of reading the new values (torch's version counter): update parameters after
 * backward(), as the optimizers do.
 */
export function assign(dst: Tensor, src: Tensor): Tensor {
  if (!(dst instanceof Tensor)) throw new OpArgumentError('assign', 'dst', 'a Tensor', describe(dst));
  if (!(src instanceof Tensor)) throw new OpArgumentError('assign', 'src', 'a Tensor (of dst\'s shape and dtype)', describe(src));
  if (src.backend !== dst.backend) throw new OpArgumentError('assign', 'src', `a tensor on dst's backend ('${dst.backend.name}')`, `a tensor on '${src.backend.name}'`);
  if (src.dtype !== dst.dtype) throw new OpArgumentError('assign', 'src', `dtype ${dst.dtype} (same as dst; cast() it first)`, src.dtype);
  if (src.shape.join() !== dst.shape.join()) throw new ShapeError('assign', 'src', `shape [${dst.shape}] (same as dst)`, `[${src.shape}]`);
  if (isGradEnabled()) {
    if (dst.requiresGrad) {
      throw new AutogradError(`assign: dst ${label(dst)} requires grad and grad mode is on: an in-place write to it cannot be recorded on the tape; run it inside noGrad() (as optimizer updates do)`);
    }
    if (src.requiresGrad) {
      throw new AutogradError(`assign: src ${label(src)} requires grad and grad mode is on: the copy is not recorded, so its gradient would be lost; run it inside noGrad() or pass src.detach()`);
    }
  }
  const d = dst.raw('assign');
  const s = src.raw('assign');
  // The same storage (a reshape or detach of dst) already holds the values.
  if (d.storage !== s.storage) dst.backend.stridedWrite(d, { offset: 0, strides: contiguousStrides(dst.shape) }, s);
  // As torch's copy_: counted even onto itself. backward() refuses a node that saved dst before this.
  dst.bumpVersion();
  return dst;
}

const label = (t: Tensor): string => (t.name !== undefined ? `'${t.name}'` : `tensor #${t.id}`);

function describe(v: unknown): string {
  return v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'an object') : `${typeof v} ${String(v)}`;
}

/**
 * Reverse-mode autograd. Ops record a GradNode on their output when grad mode is on and an input
 * requires grad; backward() walks the graph in reverse topological order, accumulating gradients.
 * Intermediate gradients are disposed as soon as their node has run, and the graph is freed as it
 * is consumed (like PyTorch without retain_graph), so peak memory stays near forward + one layer.
 */
import { RadgradError } from '../errors.js';
import { DisposedTensorError, Tensor, type GradNode } from '../tensor/tensor.js';
import { keep, tidy } from '../tensor/scope.js';
import { noteRan, noteRecorded, type SavedSpec } from './release.js';

export { release, releaseOnUse, type SavedSpec } from './release.js';

/**
 * Misuse of backward(): nothing to differentiate, a missing or mis-shaped upstream gradient, a
 * graph already consumed by an earlier backward().
 */
export class AutogradError extends RadgradError {}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording the graph (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs fn with graph recording on, even inside noGrad() (the recompute of checkpoint()). */
export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Attaches a node to `out` when grad mode is on and some input requires grad. Returns out.
 * `saved`: what the backward reads (see release.ts); by default looked up by op name.
 */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: GradNode['backward'], saved?: SavedSpec): Tensor {
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return out;
  out.requiresGrad = true;
  out.node = { op, inputs, backward };
  saveVersions(out.node, noteRecorded(out, saved));
  return out;
}

/** The versions (Tensor.version) of what each recorded node's backward reads, as they were when it was recorded. */
const savedVersions = new WeakMap<GradNode, Array<readonly [Tensor, number]>>();

/** Notes the versions of `read` (noteRecorded's result) for `node` (record() and checkpoint()). */
export function saveVersions(node: GradNode, read: readonly Tensor[]): void {
  if (read.length) savedVersions.set(node, read.map((t) => [t, t.version] as const));
}

/**
 * torch's version check: a tensor t's node (or a node that reads t) must still see what was saved
 * at record time. An in-place write since (assign(), an optimizer step, on it or on an alias
 * sharing its storage) would make the backward read the new values and give wrong gradients.
 */
function checkVersions(t: Tensor): void {
  const node = t.node;
  const saved = node && savedVersions.get(node);
  if (!saved) return;
  for (const [x, v] of saved) {
    if (x.isDisposed || x.version === v) continue;
    const which = x === t ? 'its output' : `input ${node.inputs.indexOf(x)}`;
    throw new AutogradError(
      `backward(): one of the variables needed for gradient computation has been modified by an inplace operation: ${which} (${x}${x.name !== undefined ? ` '${x.name}'` : ''}) of ${node.op}, which ${node.op}'s backward reads, is at version ${x.version}; expected version ${v} instead`,
      { hint: 'run in-place writes (assign(), optimizer steps) after backward(), or write into a copy instead of a tensor (or a reshape()/detach() of one) that the graph still needs' },
    );
  }
}

/** Adds two gradients; provided by the ops layer (it needs the add kernel). */
let addGrads: (a: Tensor, b: Tensor) => Tensor = () => {
  throw new RadgradError('autograd: gradient accumulation not registered (import radgrad ops)');
};
let onesLike: (t: Tensor) => Tensor = () => {
  throw new RadgradError('autograd: ones not registered (import radgrad ops)');
};

export function registerGradHelpers(add: (a: Tensor, b: Tensor) => Tensor, ones: (t: Tensor) => Tensor): void {
  addGrads = add;
  onesLike = ones;
}

/**
 * Backpropagates from `root`. Without `grad`, root must have one element (seeded with 1).
 * Leaf tensors with requiresGrad accumulate into `.grad` across calls. Throws (before computing
 * anything) when the graph was consumed by an earlier backward() or a tensor in it was disposed, or
 * when a tensor some node's backward reads was modified in place after the node was recorded.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) throw new AutogradError(`backward(): ${root} does not require grad (no trainable input reached it)`);
  if (!grad && root.size !== 1) {
    throw new AutogradError(`backward(): root has shape [${root.shape}]; pass an upstream gradient for non-scalar outputs`);
  }
  if (grad && grad.shape.join() !== root.shape.join()) {
    throw new AutogradError(`backward(): upstream gradient shape [${grad.shape}] does not match root [${root.shape}]`);
  }
  if (grad && grad.dtype !== root.dtype) {
    throw new AutogradError(`backward(): upstream gradient dtype ${grad.dtype} does not match root ${root}`, {
      hint: `pass a gradient of dtype ${root.dtype} (cast() it)`,
    });
  }
  if (grad && grad.backend !== root.backend) {
    throw new AutogradError(`backward(): upstream gradient is on backend '${grad.backend.name}', root ${root} on '${root.backend.name}'`);
  }
  // Reverse topological order by iterative DFS.
  const order: Tensor[] = [];
  const seen = new Set<number>();
  const stack: Array<[Tensor, number]> = [[root, 0]];
  seen.add(root.id);
  checkReachable(root, root);
  checkVersions(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i]!;
      if (c.requiresGrad && !seen.has(c.id)) {
        seen.add(c.id);
        checkReachable(c, root);
        checkVersions(c);
        stack.push([c, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  const grads = new Map<number, Tensor>();
  grads.set(root.id, grad ?? onesLike(root));
  const userGrad = grad;
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k]!;
    const g = grads.get(t.id);
    if (!g) continue;
    grads.delete(t.id);
    const node: GradNode | null = t.node;
    if (!node) {
      // A leaf: accumulate into .grad (kept beyond tidy scopes).
      if (t.requiresGrad) {
        if (t.grad) {
          const sum = addGrads(t.grad, g);
          t.grad.dispose();
          if (g !== userGrad) g.dispose();
          t.grad = keep(sum);
        } else {
          t.grad = keep(g === userGrad ? addGradsCopy(g) : g);
        }
      }
      continue;
    }
    // Temporaries a backward function creates (and does not return) are released at once, not at
    // the end of an enclosing tidy(): without this they would pile up for the whole backward pass.
    const inGrads = tidy(() => node.backward(g));
    // Ops may pass the same gradient through (add, reshape of equal shape): dispose it only if unused.
    if (g !== userGrad && !inGrads.includes(g)) g.dispose();
    t.node = null; // free the graph as it is consumed
    noteRan(node); // and released activations only this node still read
    node.inputs.forEach((inp, j) => {
      const ig = inGrads[j];
      if (!ig || !inp.requiresGrad) {
        if (ig && ig !== userGrad && !inGrads.slice(j + 1).includes(ig) && !isPassedOn(ig, inGrads, node.inputs)) ig.dispose();
        return;
      }
      if (ig.shape.join() !== inp.shape.join()) {
        throw new AutogradError(`autograd: ${node.op} produced a gradient of shape [${ig.shape}] for an input of shape [${inp.shape}]`);
      }
      const prev = grads.get(inp.id);
      // The same gradient tensor may be handed to several inputs (add(a, a), passthroughs): every use
      // but the last takes a storage-sharing view, since accumulation disposes what it consumes.
      const usedLater = inGrads.some((x, k) => k > j && x === ig && node.inputs[k]!.requiresGrad);
      const own = usedLater || [...grads.values()].includes(ig) || ig === userGrad ? ig.detach() : ig;
      if (prev) {
        grads.set(inp.id, addGrads(prev, own));
        prev.dispose();
        own.dispose();
      } else grads.set(inp.id, own);
    });
  }
}

/**
 * Every tensor backward() reaches must still have its node, or be a live leaf: checked before any
 * gradient is computed, so that a misuse fails whole instead of dropping gradients half-way.
 * A tensor that an op made but that has no node any more was consumed by an earlier backward() or
 * disposed (tidy() ended, dispose()); treating it as a leaf would stop every gradient below it
 * silently and attach a .grad to an intermediate that nothing frees.
 */
function checkReachable(t: Tensor, root: Tensor): void {
  if (t.node) return;
  if (t.isDisposed) {
    throw new DisposedTensorError('backward()', t.id, {
      madeBy: t.madeBy,
      detail: ` before backward(${root}) reached it: ${t.madeBy ? 'no gradient can flow through it to what it was made from' : 'its gradient would be lost'}`,
      hint: 'call backward() inside the tidy() scope that built the graph (return the loss from it), and dispose intermediates only after backward()',
    });
  }
  if (t.madeBy) {
    const who = `${t === root ? `the root ${t}` : `tensor #${t.id}`} (made by ${t.madeBy})`;
    throw new AutogradError(
      `backward(): the graph behind ${who} was already consumed by an earlier backward(): trying to backward through the graph a second time`,
      { hint: 'backward() frees the graph as it goes (there is no retain_graph); run the forward pass again before another backward()' },
    );
  }
}

/** True when `ig` is also the gradient of some input that needs it (so it must not be disposed). */
function isPassedOn(ig: Tensor, inGrads: ReadonlyArray<Tensor | null>, inputs: readonly Tensor[]): boolean {
  return inGrads.some((x, i) => x === ig && inputs[i]!.requiresGrad);
}

function addGradsCopy(g: Tensor): Tensor {
  return g.detach();
}

/** Clears `.grad` on the given tensors (releasing their storage). */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}

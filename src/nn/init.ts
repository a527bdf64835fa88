/**
 * Parameter initialisers (torch.nn.init) drawing from the seeded counter-based RNG, so the same
 * seed gives the same weights on the GPU and on the CPU reference. All return new leaf tensors on
 * the current backend (requiresGrad when asked).
 */
import { getBackend } from '../backend/registry.js';
import { OpArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

export interface InitOptions {
  requiresGrad?: boolean;
}

/**
 * fan_in as torch's _calculate_fan_in_and_fan_out: shape[1] times the receptive field
 * (product of shape[2:]). Torch stores Linear weights as [out, in], so fan_in = in.
 */
export function fanIn(shape: readonly number[]): number {
  if (shape.length < 2) throw new OpArgumentError('fanIn', 'shape', 'at least 2 dimensions', `[${shape}]`);
  let receptive = 1;
  for (const d of shape.slice(2)) receptive *= d;
  return shape[1]! * receptive;
}

/** Leaky-ReLU gain as torch.nn.init.calculate_gain('leaky_relu', a): sqrt(2 / (1 + a²)). */
export function leakyReluGain(a: number): number {
  return Math.sqrt(2 / (1 + a * a));
}

/** The bound of kaiming_uniform_: gain * sqrt(3 / fan_in). */
export function kaimingUniformBound(fan: number, a = Math.sqrt(5)): number {
  if (!(fan > 0)) throw new OpArgumentError('kaimingUniform', 'fan_in', 'a positive number', String(fan));
  return leakyReluGain(a) * Math.sqrt(3 / fan);
}

export interface KaimingOptions extends InitOptions {
  /** fan_in to use instead of fanIn(shape) (e.g. for weights stored as [in, out]). */
  fanIn?: number;
}

/**
 * torch.nn.init.kaiming_uniform_(w, a) with mode='fan_in', nonlinearity='leaky_relu': U(-b, b)
 * with b = sqrt(2 / (1 + a²)) * sqrt(3 / fan_in). The default a = sqrt(5) is what nn.Linear uses
 * (b = 1 / sqrt(fan_in)).
 */
export function kaimingUniform(shape: readonly number[], a: number = Math.sqrt(5), seed = 0, opts: KaimingOptions = {}): Tensor {
  const bound = kaimingUniformBound(opts.fanIn ?? fanIn(shape), a);
  return uniform(shape, -bound, bound, seed, opts);
}

/** U(lo, hi). */
export function uniform(shape: readonly number[], lo: number, hi: number, seed = 0, opts: InitOptions = {}): Tensor {
  if (!(hi >= lo)) throw new OpArgumentError('uniform', 'hi', `a number >= lo (${lo})`, String(hi));
  const be = getBackend();
  return new Tensor(be.randomUniform(shape, seed, lo, hi), be, opts.requiresGrad ?? false);
}

export interface NormalOptions extends InitOptions {
  mean?: number;
}

/** N(mean, std²) (mean default 0). */
export function normal(shape: readonly number[], std: number, seed = 0, opts: NormalOptions = {}): Tensor {
  if (!(std >= 0)) throw new OpArgumentError('normal', 'std', 'a number >= 0', String(std));
  const be = getBackend();
  return new Tensor(be.randomNormal(shape, seed, opts.mean ?? 0, std), be, opts.requiresGrad ?? false);
}

export function zeros(shape: readonly number[], opts: InitOptions = {}): Tensor {
  const be = getBackend();
  return new Tensor(be.full(shape, 'f32', 0), be, opts.requiresGrad ?? false);
}

/**
 * Module: a tree of named parameters and child modules, addressed by Hugging Face-style dotted
 * paths ("biogpt.layers.0.self_attn.q_proj.weight"), as torch.nn.Module.
 *
 * Parameters and children live in per-module maps that are the single source of truth; subclasses
 * read them through getters (`get weight() { return this.param('weight') }`) or through fields of
 * the same name kept in sync by setSubmodule(), so a wrapper (LoRA, int8) can be swapped in by
 * path without the parent knowing. Parameters are leaf tensors kept beyond tidy() scopes.
 *
 * Deferred init: inside deferParameterInit(fn) modules record parameter shapes without allocating
 * them; loadStateDict() then uploads each tensor once (no random init, no extra copy), which is how
 * fromPretrained() keeps device and host memory at the checkpoint's size.
 */
import { FileFormatError, RadgradError, ShapeError } from '../errors.js';
import { getBackend } from '../backend/registry.js';
import { contiguousStrides, numel } from '../backend/types.js';
import { Tensor } from '../tensor/tensor.js';
import { keep } from '../tensor/scope.js';
import { noGrad } from '../autograd/tape.js';

/** A module path or parameter that does not exist / does not fit. */
export class ModuleError extends RadgradError {}

let deferDepth = 0;

/** Builds modules whose parameters are recorded (name, shape) but not allocated until loaded. */
export function deferParameterInit<T>(fn: () => T): T {
  deferDepth++;
  try {
    return fn();
  } finally {
    deferDepth--;
  }
}

/** Whether modules created now defer their parameters (see deferParameterInit). */
export function isParameterInitDeferred(): boolean {
  return deferDepth > 0;
}

interface ParamSlot {
  readonly shape: readonly number[];
  tensor: Tensor | null;
  /** requiresGrad to apply when a deferred parameter is materialised. */
  trainable: boolean;
}

/** Host values for one parameter: a float array of numel(shape) values, or a tensor. */
export type StateValue = Tensor | Float32Array | Float64Array | { shape: readonly number[]; data: ArrayLike<number> };

/** Anything that yields parameter values by name: a Map, a record, or a checkpoint reader. */
export type StateSource =
  | ReadonlyMap<string, StateValue>
  | Readonly<Record<string, StateValue>>
  | {
      readonly file?: string;
      keys(): string[];
      has(name: string): boolean;
      info(name: string): { shape: number[]; dtype?: string };
      readF32(name: string): Float32Array;
      /** Raw little-endian bytes into dst (lets the loader reuse one staging buffer for f32 tensors). */
      readInto?(name: string, dst: Uint8Array): void;
    };

export interface LoadStateOptions {
  /** Throw on missing or unexpected keys (default true). Shape mismatches always throw. */
  strict?: boolean;
  /** Source key for a parameter path (e.g. to add or strip a prefix). Default identity. */
  keyOf?: (paramPath: string) => string;
  /** Keys to ignore when strict (e.g. a tied head stored twice). */
  ignoreKeys?: Iterable<string>;
  /** Called after each tensor is loaded (progress, RSS sampling). */
  onTensor?: (paramPath: string, numel: number) => void;
}

export interface LoadStateResult {
  missing: string[];
  unexpected: string[];
  loaded: number;
}

function isReader(s: StateSource): s is Extract<StateSource, { readF32: unknown }> {
  return typeof (s as { readF32?: unknown }).readF32 === 'function' && typeof (s as { keys?: unknown }).keys === 'function';
}

function sourceKeys(s: StateSource): string[] {
  if (isReader(s)) return s.keys();
  if (s instanceof Map) return [...s.keys()];
  return Object.keys(s);
}

function sourceGet(s: StateSource, key: string): StateValue | undefined {
  if (s instanceof Map) return s.get(key);
  return (s as Record<string, StateValue>)[key];
}

const sh = (s: readonly number[]) => `[${s.join(', ')}]`;

export abstract class Module {
  /** Train mode (dropout active). Set through train()/eval(), which recurse. */
  training = true;
  readonly #params = new Map<string, ParamSlot>();
  readonly #children = new Map<string, Module>();

  // ---- construction (subclasses) ------------------------------------------------------------

  /**
   * Registers a parameter of `shape` initialised by `init` (skipped under deferParameterInit).
   * The tensor becomes a kept, trainable leaf.
   */
  protected addParameter(name: string, shape: readonly number[], init: () => Tensor): void {
    if (name.includes('.')) throw new ModuleError(`parameter name '${name}' must not contain '.'`);
    if (this.#params.has(name) || this.#children.has(name)) throw new ModuleError(`${this.constructor.name}: '${name}' is already registered`);
    const slot: ParamSlot = { shape: [...shape], tensor: null, trainable: true };
    if (!isParameterInitDeferred()) {
      const t = noGrad(init);
      if (t.shape.join() !== shape.join()) throw new ShapeError(`${this.constructor.name}.${name}`, 'init', `a tensor of shape ${sh(shape)}`, sh(t.shape));
      slot.tensor = keep(t.requiresGrad_(true));
      slot.tensor.name = name;
    }
    this.#params.set(name, slot);
  }

  /** Registers a child module under `name` and returns it. */
  protected addModule<M extends Module>(name: string, m: M): M {
    if (name.includes('.')) throw new ModuleError(`module name '${name}' must not contain '.'`);
    if (this.#params.has(name) || this.#children.has(name)) throw new ModuleError(`${this.constructor.name}: '${name}' is already registered`);
    this.#children.set(name, m);
    return m;
  }

  /** A local parameter; throws if it was deferred and never loaded. */
  protected param(name: string): Tensor {
    const s = this.#params.get(name);
    if (!s) throw new ModuleError(`${this.constructor.name} has no parameter '${name}'`);
    if (!s.tensor) {
      throw new ModuleError(`${this.constructor.name}.${name} ${sh(s.shape)} was never loaded`, {
        hint: 'a model built under deferParameterInit() needs loadStateDict() (fromPretrained does this) before use',
      });
    }
    if (s.tensor.isDisposed) throw new ModuleError(`${this.constructor.name}.${name} was disposed (module.dispose() or a tidy() that created the module)`);
    return s.tensor;
  }

  protected hasParam(name: string): boolean {
    return this.#params.has(name);
  }

  protected child<M extends Module = Module>(name: string): M {
    const m = this.#children.get(name);
    if (!m) throw new ModuleError(`${this.constructor.name} has no submodule '${name}'`);
    return m as M;
  }

  // ---- traversal ----------------------------------------------------------------------------

  /** Direct children as [name, module]. */
  namedChildren(): Array<[string, Module]> {
    return [...this.#children];
  }

  /** This module ('' or prefix) and every descendant, depth first, each once. */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    const seen = new Set<Module>();
    const walk = (m: Module, p: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([p, m]);
      for (const [n, c] of m.#children) walk(c, p ? `${p}.${n}` : n);
    };
    walk(this, prefix);
    return out;
  }

  /**
   * Every parameter as [dotted path, tensor] in registration order. A tensor shared by two modules
   * (tied weights) is listed once, under its first path (as torch's named_parameters()).
   * Deferred, not-yet-loaded parameters are skipped.
   */
  namedParameters(): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    const seen = new Set<Tensor>();
    for (const [path, slot] of this.#namedSlots()) {
      if (!slot.tensor || seen.has(slot.tensor)) continue;
      seen.add(slot.tensor);
      out.push([path, slot.tensor]);
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Parameters with requiresGrad (what an optimizer should update). */
  trainableParameters(): Tensor[] {
    return this.parameters().filter((t) => t.requiresGrad);
  }

  /** Every parameter path with its shape, loaded or not (deferred ones included). */
  parameterShapes(): Array<[string, readonly number[]]> {
    return this.#namedSlots().map(([p, s]) => [p, s.shape]);
  }

  /** Total element count (of trainable parameters only, when asked). */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    const seen = new Set<Tensor>();
    for (const [, s] of this.#namedSlots()) {
      if (s.tensor && seen.has(s.tensor)) continue;
      if (s.tensor) seen.add(s.tensor);
      if (opts.trainableOnly && !(s.tensor ? s.tensor.requiresGrad : s.trainable)) continue;
      n += numel(s.shape);
    }
    if (!opts.trainableOnly) for (const [, m] of this.namedModules()) n += m.frozenElementCount();
    return n;
  }

  /**
   * Elements of frozen weights held outside parameter slots (e.g. a packed int8 base), counted by
   * numParameters() as PyTorch counts bitsandbytes' Int8Params: one per logical weight.
   */
  protected frozenElementCount(): number {
    return 0;
  }

  #namedSlots(): Array<[string, ParamSlot]> {
    const out: Array<[string, ParamSlot]> = [];
    for (const [mp, m] of this.namedModules()) {
      for (const [n, s] of m.#params) out.push([mp ? `${mp}.${n}` : n, s]);
    }
    return out;
  }

  #resolve(path: string): { owner: Module; name: string } {
    const parts = path.split('.');
    const name = parts.pop()!;
    let m: Module = this;
    for (const p of parts) {
      const c = m.#children.get(p);
      if (!c) throw new ModuleError(`no submodule '${p}' on the way to '${path}' (in ${m.constructor.name})`);
      m = c;
    }
    return { owner: m, name };
  }

  /** The module at a dotted path ('' is this module). */
  getSubmodule(path: string): Module {
    if (path === '') return this;
    const { owner, name } = this.#resolve(path);
    const c = owner.#children.get(name);
    if (!c) throw new ModuleError(`no submodule '${path}' (${owner.constructor.name} has ${[...owner.#children.keys()].join(', ') || 'no children'})`);
    return c;
  }

  /**
   * Replaces the module at `path` (e.g. a Linear by a LoRA wrapper holding it). A same-named field
   * on the parent is updated too, so code reading `this.q_proj` sees the replacement.
   */
  setSubmodule(path: string, m: Module): void {
    const { owner, name } = this.#resolve(path);
    if (!owner.#children.has(name)) throw new ModuleError(`no submodule '${path}' to replace`);
    owner.#children.set(name, m);
    if (Object.prototype.hasOwnProperty.call(owner, name)) (owner as unknown as Record<string, unknown>)[name] = m;
  }

  /** The parameter at a dotted path (throws if absent or not loaded). */
  getParameter(path: string): Tensor {
    const { owner, name } = this.#resolve(path);
    return owner.param(name);
  }

  // ---- modes --------------------------------------------------------------------------------

  /** Train mode (dropout on) for this module and all descendants. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Eval mode (dropout off). */
  eval(): this {
    return this.train(false);
  }

  /** Sets requiresGrad on every parameter (frozen parameters get no .grad and no optimizer update). */
  requiresGrad_(flag: boolean): this {
    for (const [, s] of this.#namedSlots()) {
      s.trainable = flag;
      if (s.tensor) s.tensor.requiresGrad = flag;
    }
    return this;
  }

  freeze(): this {
    return this.requiresGrad_(false);
  }

  unfreeze(): this {
    return this.requiresGrad_(true);
  }

  /** Releases every parameter's gradient. */
  zeroGrad(): void {
    for (const t of this.parameters()) {
      t.grad?.dispose();
      t.grad = null;
    }
  }

  // ---- state --------------------------------------------------------------------------------

  /** Parameters by dotted path (tied tensors once), as torch's state_dict() minus duplicates. */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /**
   * Loads parameter values from a map, record or checkpoint reader (tensor by tensor: each host
   * array is uploaded and dropped before the next is read). Loaded parameters are written in
   * place (existing references, e.g. an optimizer's, stay valid); deferred ones are allocated now.
   * Shape mismatches throw naming the tensor; missing/unexpected keys throw when strict.
   */
  loadStateDict(src: StateSource, opts: LoadStateOptions = {}): LoadStateResult {
    const strict = opts.strict ?? true;
    const keyOf = opts.keyOf ?? ((p: string) => p);
    const where = (isReader(src) ? src.file : undefined) ?? 'state dict';
    const slots = this.#namedSlots();
    const used = new Set<string>();
    const missing: string[] = [];
    const seen = new Set<ParamSlot>();
    const todo: Array<[string, string, ParamSlot]> = [];
    // Validate everything first so a bad checkpoint leaves the model untouched.
    for (const [path, slot] of slots) {
      if (seen.has(slot)) continue;
      seen.add(slot);
      const key = keyOf(path);
      const has = isReader(src) ? src.has(key) : sourceGet(src, key) !== undefined;
      if (!has) {
        missing.push(path);
        continue;
      }
      const shape = isReader(src) ? src.info(key).shape : stateShape(sourceGet(src, key)!, slot.shape);
      if (shape.join() !== slot.shape.join()) {
        throw new ShapeError('loadStateDict', key, `shape ${sh(slot.shape)} (parameter '${path}')`, `${sh(shape)} in ${where}`);
      }
      used.add(key);
      todo.push([path, key, slot]);
    }
    const ignore = new Set(opts.ignoreKeys ?? []);
    const unexpected = sourceKeys(src).filter((k) => !used.has(k) && !ignore.has(k));
    if (strict && (missing.length || unexpected.length)) {
      const parts = [];
      if (missing.length) parts.push(`missing ${missing.length}: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}`);
      if (unexpected.length) parts.push(`unexpected ${unexpected.length}: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ', ...' : ''}`);
      throw new ModuleError(`loadStateDict from ${where}: ${parts.join('; ')}`, { hint: 'pass {strict: false} to load a subset' });
    }
    const be = getBackend();
    // f32 tensors of a reader are read into one reused staging buffer (upload copies it out), so
    // host memory stays at the largest tensor however many are loaded.
    let staging: ArrayBuffer | null = null;
    if (isReader(src) && typeof src.readInto === 'function') {
      const maxF32 = todo.reduce((m, [, key, sl]) => (src.info(key).dtype === 'f32' ? Math.max(m, numel(sl.shape)) : m), 0);
      if (maxF32 > 0) staging = new ArrayBuffer(maxF32 * 4);
    }
    for (const [path, key, slot] of todo) {
      try {
        let data: Tensor | ArrayLike<number>;
        if (isReader(src)) {
          if (staging && src.info(key).dtype === 'f32') {
            const n = numel(slot.shape);
            src.readInto!(key, new Uint8Array(staging, 0, n * 4));
            data = new Float32Array(staging, 0, n);
          } else data = src.readF32(key);
        } else data = stateData(sourceGet(src, key)!);
        if (data instanceof Tensor) {
          writeInto(slot, path, data);
        } else {
          const raw = be.upload(data, slot.shape, 'f32');
          if (slot.tensor && !slot.tensor.isDisposed) {
            if (slot.tensor.backend !== be) throw new ModuleError(`parameter '${path}' lives on backend '${slot.tensor.backend.name}', the current backend is '${be.name}'`);
            // In place, so optimizers and wrappers holding this tensor see the new values.
            be.stridedWrite(slot.tensor.raw('loadStateDict'), { offset: 0, strides: contiguousStrides(slot.shape) }, raw);
            slot.tensor.bumpVersion(); // an in-place write: a graph that read the old values cannot backward
            be.dispose(raw);
          } else {
            const t = keep(new Tensor(raw, be, slot.trainable));
            t.name = path;
            slot.tensor = t;
          }
        }
      } catch (e) {
        // Name the tensor: a device error (e.g. a buffer over the adapter's limits) says only 'upload'.
        if (e instanceof RadgradError && !(e instanceof ModuleError) && !(e instanceof FileFormatError)) {
          throw new ModuleError(`${where}: cannot load '${key}' ${sh(slot.shape)}: ${e.message}`, { cause: e, ...(e.hint ? { hint: e.hint } : {}) });
        }
        throw e;
      }
      opts.onTensor?.(path, numel(slot.shape));
    }
    return { missing, unexpected, loaded: todo.length };
  }

  /** Frees every parameter (and gradient). The module is unusable afterwards. */
  dispose(): void {
    for (const [, s] of this.#namedSlots()) {
      s.tensor?.dispose();
      s.tensor = null;
    }
  }
}


function stateShape(v: StateValue, expected: readonly number[]): readonly number[] {
  if (v instanceof Tensor) return v.shape;
  if (v instanceof Float32Array || v instanceof Float64Array) return v.length === numel(expected) ? expected : [v.length];
  return v.shape;
}

function stateData(v: StateValue): Tensor | ArrayLike<number> {
  if (v instanceof Tensor || v instanceof Float32Array || v instanceof Float64Array) return v;
  return v.data;
}

function writeInto(slot: ParamSlot, path: string, v: Tensor): void {
  const be = v.backend;
  if (slot.tensor && !slot.tensor.isDisposed) {
    if (slot.tensor.backend !== be) throw new ModuleError(`parameter '${path}' lives on backend '${slot.tensor.backend.name}', the value on '${be.name}'`);
    be.stridedWrite(slot.tensor.raw('loadStateDict'), { offset: 0, strides: contiguousStrides(slot.shape) }, v.raw('loadStateDict'));
    slot.tensor.bumpVersion();
  } else {
    // A private copy: the caller keeps ownership of v.
    const copy = be.stridedCopy(v.raw('loadStateDict'), { offset: 0, strides: contiguousStrides(v.shape) }, v.shape);
    const t = keep(new Tensor(copy, be, slot.trainable));
    t.name = path;
    slot.tensor = t;
  }
}

let initSeed = 0x5eed;

/** Seeds the counter that gives each newly created parameter its own RNG seed. */
export function manualSeed(seed: number): void {
  initSeed = seed >>> 0;
}

/** A fresh seed for one parameter initialiser (deterministic given manualSeed and creation order). */
export function nextInitSeed(): number {
  initSeed = (Math.imul(initSeed ^ (initSeed >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
  return initSeed;
}

/**
 * Compute pipelines cached by kernel + aliases + override constants; compile errors name the kernel.
 * Every kernel gets an explicit bind group layout made from its declaration, with the uniform
 * struct bound at a dynamic offset: the queue packs the uniforms of all dispatches of a submit into
 * one buffer and can reuse a bind group whenever the same storage buffers recur (decoding).
 */
import type { GpuContext } from './device.js';
import { GpuError, KernelCompileError } from './errors.js';
import { kernelFile, kernelSource, pipelineKey, sourceLine, uniformBindingIndex, uniformLayout, type KernelDecl, type SourceSegment } from './kernel.js';

/** A uniform field as 32-bit words: where it starts, how many it holds, how numbers are stored. */
export interface UniformSlotField {
  readonly name: string;
  readonly word: number;
  readonly words: number;
  readonly elem: 'f32' | 'i32' | 'u32';
}

/** What the launch path needs of a declaration, computed once per kernel. */
export interface KernelLayout {
  readonly bindGroupLayout: GPUBindGroupLayout;
  readonly pipelineLayout: GPUPipelineLayout;
  /** Uniform struct size in bytes (0: no uniform binding) and its fields. */
  readonly uniformBytes: number;
  readonly uniformFields: readonly UniformSlotField[];
  /** Pipelines by a hash of the override names and values in the caller's key order (chained on collisions). */
  readonly byConstants: Map<number, ConstantsEntry>;
  /** The pipeline of launches without override constants. */
  plain: GPUComputePipeline | undefined;
  /** Bind groups of this layout by binding hash (CommandQueue's cache), and the queue they belong to. */
  bindGroups: Map<number, unknown> | undefined;
  bindGroupsOwner: unknown;
}

/** One override assignment (names in the caller's order, values as numbers) and its pipeline. */
interface ConstantsEntry {
  readonly names: readonly string[];
  readonly values: readonly number[];
  readonly pipeline: GPUComputePipeline;
  readonly next: ConstantsEntry | undefined;
}

const COMPUTE = 4; // GPUShaderStage.COMPUTE

export class PipelineCache {
  private cache = new Map<string, GPUComputePipeline>();
  private pending = new Set<Promise<void>>();
  /** Layouts by declaration object, and by identity string for declarations made afresh per call. */
  private layouts = new WeakMap<KernelDecl, KernelLayout>();
  private layoutsByKey = new Map<string, KernelLayout>();
  /** Override names interned as small numbers (pipelineFor's hash) and its scratch arrays. */
  private nameIds = new Map<string, number>();
  private tmpNames: string[] = [];
  private tmpValues: number[] = [];
  constructor(private readonly ctx: GpuContext) {}

  /** The declaration's bind group / pipeline layout and uniform plan. */
  layout(decl: KernelDecl): KernelLayout {
    const hit = this.layouts.get(decl);
    if (hit) return hit;
    const key = `${decl.name}|${kernelFile(decl)}|${JSON.stringify([decl.aliases, decl.enables, decl.bindings, decl.uniforms])}`;
    let l = this.layoutsByKey.get(key);
    if (!l) this.layoutsByKey.set(key, (l = makeLayout(this.ctx.device, decl)));
    this.layouts.set(decl, l);
    return l;
  }

  /** The pipeline for a launch and the kernel's layout. */
  lookup(decl: KernelDecl, constants?: Readonly<Record<string, number | boolean>>): { pipeline: GPUComputePipeline; layout: KernelLayout } {
    const layout = this.layout(decl);
    return { pipeline: this.pipelineFor(decl, layout, constants), layout };
  }

  /**
   * The launch path's pipeline lookup. Callers build a fresh constants object per launch, so the
   * key is a number hashed from interned name ids and the values (no string is built, nothing is
   * allocated on a hit) and an entry is taken only when every name and value matches. A different
   * key order is another entry for the same pipeline (get() sorts).
   */
  pipelineFor(decl: KernelDecl, layout: KernelLayout, constants: Readonly<Record<string, number | boolean>> | undefined): GPUComputePipeline {
    if (!constants) return (layout.plain ??= this.get(decl));
    const names = this.tmpNames;
    const values = this.tmpValues;
    let n = 0;
    let h = 0;
    for (const k in constants) {
      const v = Number(constants[k]);
      // NaN equals nothing: such a launch takes the uncached path instead of growing a chain.
      if (v !== v) return this.get(decl, constants);
      let id = this.nameIds.get(k);
      if (id === undefined) this.nameIds.set(k, (id = this.nameIds.size + 1));
      names[n] = k;
      values[n++] = v;
      h = Math.imul(h ^ id, 0x9e3779b1);
      h = Math.imul(h ^ (v | 0), 0x85ebca6b);
    }
    const key = (h ^ (h >>> 15)) & 0x3fffffff;
    const first = layout.byConstants.get(key);
    search: for (let e = first; e; e = e.next) {
      if (e.names.length !== n) continue;
      for (let i = 0; i < n; i++) if (e.names[i] !== names[i] || e.values[i] !== values[i]) continue search;
      return e.pipeline;
    }
    const pipeline = this.get(decl, constants);
    layout.byConstants.set(key, { names: names.slice(0, n), values: values.slice(0, n), pipeline, next: first });
    return pipeline;
  }

  /** Resolves when the diagnostics of every pipeline created so far are in (async points await it). */
  /** Whether a pipeline compile is still in flight (settled() would wait). */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  async settled(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  get size(): number {
    return this.cache.size;
  }

  /** Synchronous lookup/creation used by launches; a compile failure surfaces at the next check(). */
  get(decl: KernelDecl, constants: Readonly<Record<string, number | boolean>> = {}): GPUComputePipeline {
    const key = pipelineKey(decl, constants);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const { device } = this.ctx;
    const { code, segments } = kernelSource(decl);
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code, label: decl.name });
    const pipeline = device.createComputePipeline(describe(decl, module, constants, this.layout(decl)));
    const p = device.popErrorScope().then(async (err) => {
      if (!err) return;
      const ce = await compileError(decl, module, segments);
      this.ctx.pushAsyncError(ce ?? new GpuError('validation', err.message, `${decl.name}${overridesNote(constants)}`));
    });
    const tracked = p.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    this.cache.set(key, pipeline);
    return pipeline;
  }

  /** Compiles now and throws KernelCompileError on failure (use before timing or in tests). */
  async compile(decl: KernelDecl, constants: Readonly<Record<string, number | boolean>> = {}): Promise<GPUComputePipeline> {
    const key = pipelineKey(decl, constants);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const { device } = this.ctx;
    const { code, file, segments } = kernelSource(decl);
    // In an error scope: an uncaptured error would resurface later as a stale GpuError in some
    // unrelated check(), after the caller has already handled the KernelCompileError thrown here.
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code, label: decl.name });
    const moduleErr = await device.popErrorScope();
    const ce = await compileError(decl, module, segments);
    if (ce) throw ce;
    if (moduleErr) throw new GpuError('validation', moduleErr.message, decl.name);
    try {
      const pipeline = await device.createComputePipelineAsync(describe(decl, module, constants, this.layout(decl)));
      this.cache.set(key, pipeline);
      return pipeline;
    } catch (e) {
      // The module compiled, so the override values are what failed (workgroup size or memory).
      throw new KernelCompileError(decl.name, file, 0, `pipeline creation failed${overridesNote(constants)}: ${(e as Error).message}`);
    }
  }
}

function describe(decl: KernelDecl, module: GPUShaderModule, c: Readonly<Record<string, number | boolean>>, layout: KernelLayout): GPUComputePipelineDescriptor {
  const constants: Record<string, number> = {};
  for (const [k, v] of Object.entries(c)) constants[k] = Number(v);
  return { layout: layout.pipelineLayout, compute: { module, entryPoint: 'main', constants }, label: decl.name };
}

/** Storage bindings as declared (atomics are read_write, as the generated header makes them), then the uniform. */
function makeLayout(device: GPUDevice, decl: KernelDecl): KernelLayout {
  const u = uniformLayout(decl);
  const entries: GPUBindGroupLayoutEntry[] = decl.bindings.map((b, i) => ({
    binding: i, visibility: COMPUTE, buffer: { type: b.access === 'read' && !b.type.startsWith('atomic') ? 'read-only-storage' : 'storage' },
  }));
  const uniformBytes = u.fields.length ? u.byteSize : 0;
  if (uniformBytes) entries.push({ binding: uniformBindingIndex(decl), visibility: COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: uniformBytes } });
  const bindGroupLayout = device.createBindGroupLayout({ entries, label: decl.name });
  const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout], label: decl.name });
  const uniformFields = u.fields.map((f) => ({
    name: f.name, word: f.offset / 4, words: f.size / 4,
    elem: f.type.includes('f32') ? 'f32' as const : f.type.includes('i32') ? 'i32' as const : 'u32' as const,
  }));
  return { bindGroupLayout, pipelineLayout, uniformBytes, uniformFields, byConstants: new Map(), plain: undefined, bindGroups: undefined, bindGroupsOwner: undefined };
}

/** " with overrides A=1, B=true" for an error message (the values a pipeline was created with), or "". */
function overridesNote(c: Readonly<Record<string, number | boolean>>): string {
  const keys = Object.keys(c).sort();
  return keys.length ? ` with overrides ${keys.map((k) => `${k}=${c[k]}`).join(', ')}` : '';
}

/**
 * The module's compile errors as one KernelCompileError, or undefined. Each message names the file
 * its line is in (the body, an include such as shaders/common/strided.wgsl, or the generated header)
 * and the line there; the error's file and line are those of the first message.
 */
async function compileError(decl: KernelDecl, module: GPUShaderModule, segments: readonly SourceSegment[]): Promise<KernelCompileError | undefined> {
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (!errors.length) return undefined;
  const first = sourceLine(segments, errors[0]!.lineNum);
  const detail = errors.map((m) => {
    const at = sourceLine(segments, m.lineNum);
    return `${at.file === first.file ? '' : `${at.file} `}line ${at.line}: ${m.message}`;
  }).join('; ');
  return new KernelCompileError(decl.name, first.file, first.line, detail);
}

/** Compute pipelines cached by kernel + aliases + override constants; compile errors name the kernel. */
import type { GpuContext } from './device.js';
import { GpuError, KernelCompileError } from './errors.js';
import { kernelSource, pipelineKey, type KernelDecl } from './kernel.js';

export class PipelineCache {
  private cache = new Map<string, GPUComputePipeline>();
  private pending = new Set<Promise<void>>();
  constructor(private readonly ctx: GpuContext) {}

  /** Resolves when the diagnostics of every pipeline created so far are in (async points await it). */
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
    const { code, headerLines, file } = kernelSource(decl);
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code, label: decl.name });
    const pipeline = device.createComputePipeline(describe(decl, module, constants));
    const p = device.popErrorScope().then(async (err) => {
      if (!err) return;
      const ce = await compileError(decl, module, headerLines, file);
      this.ctx.pushAsyncError(ce ?? new GpuError('validation', err.message, decl.name));
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
    const { code, headerLines, file } = kernelSource(decl);
    // In an error scope: an uncaptured error would resurface later as a stale GpuError in some
    // unrelated check(), after the caller has already handled the KernelCompileError thrown here.
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code, label: decl.name });
    const moduleErr = await device.popErrorScope();
    const ce = await compileError(decl, module, headerLines, file);
    if (ce) throw ce;
    if (moduleErr) throw new GpuError('validation', moduleErr.message, decl.name);
    try {
      const pipeline = await device.createComputePipelineAsync(describe(decl, module, constants));
      this.cache.set(key, pipeline);
      return pipeline;
    } catch (e) {
      throw new KernelCompileError(decl.name, file, 0, (e as Error).message);
    }
  }
}

function describe(decl: KernelDecl, module: GPUShaderModule, c: Readonly<Record<string, number | boolean>>): GPUComputePipelineDescriptor {
  const constants: Record<string, number> = {};
  for (const [k, v] of Object.entries(c)) constants[k] = Number(v);
  return { layout: 'auto', compute: { module, entryPoint: 'main', constants }, label: decl.name };
}

async function compileError(decl: KernelDecl, module: GPUShaderModule, headerLines: number, file: string): Promise<KernelCompileError | undefined> {
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (!errors.length) return undefined;
  const first = errors[0]!;
  const line = first.lineNum - headerLines;
  const where = line > 0 ? line : first.lineNum;
  const detail = errors.map((m) => `${m.lineNum - headerLines > 0 ? `line ${m.lineNum - headerLines}` : `header line ${m.lineNum}`}: ${m.message}`).join('; ');
  return new KernelCompileError(decl.name, line > 0 ? file : `${file} (generated header)`, where, detail);
}

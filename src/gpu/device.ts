/**
 * The Dawn device layer. One GpuContext owns the Dawn instance, the adapter and the device for
 * their whole lifetime: dawn.node crashes (SIGSEGV, mutex assertions) when the instance object is
 * garbage-collected while a device made from it is still in use, so the instance is held here
 * until shutdown() has finished all work and destroyed the device. See docs/GPU_LIFETIME.md.
 */
import { create, globals } from 'webgpu';
import { BufferPool } from './buffer_pool.js';
import { CommandQueue } from './queue.js';
import { PipelineCache } from './pipeline_cache.js';
import { DeviceLostError, GpuError, KernelCompileError, NoAdapterError } from './errors.js';

// WebGPU enums (GPUBufferUsage, GPUMapMode...) are globals in browsers; dawn.node exports them.
Object.assign(globalThis, globals);

export interface GpuOptions {
  /** Substring of the adapter name to pick (Dawn's `adapter=` option); env RADGRAD_ADAPTER. */
  adapter?: string;
  /** Dawn backend ('vulkan', 'opengles', ...); env RADGRAD_BACKEND. */
  backend?: string;
  /** Enable allow_unsafe_apis + vulkan_enable_f16_on_nvidia (shader-f16 and subgroup matrices on NVIDIA). */
  unsafeFeatures?: boolean;
  /**
   * Extra Dawn toggles to enable, e.g. disable_robustness (no bounds clamping of storage accesses:
   * radgrad's kernels guard their own), skip_validation (less host work per call); env
   * RADGRAD_DAWN_TOGGLES (comma-separated) adds to these.
   */
  enableToggles?: string[];
  /** Request optional features when present (default true); false gives the portable core path. */
  optionalFeatures?: boolean;
}

export interface GpuCapabilities {
  f16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  subgroupMatrix: boolean;
  /** WGSL `packed_4x8_integer_dot_product` (dot4I8Packed) is available. */
  dot4I8Packed: boolean;
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  type: string;
  isCpu: boolean;
}

const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'];
const CORE_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize', 'maxBindGroups', 'maxBindingsPerBindGroup',
];

function describe(info: GPUAdapterInfo): AdapterDescription {
  const anyInfo = info as unknown as Record<string, unknown>;
  const str = (k: string) => (typeof anyInfo[k] === 'string' ? (anyInfo[k] as string) : '');
  const description = str('description');
  const type = str('adapterType') || str('type');
  const isCpu = /cpu/i.test(type) || /llvmpipe|lavapipe|swiftshader/i.test(description + str('device'));
  return { vendor: str('vendor'), architecture: str('architecture'), device: str('device'), description, backend: str('backendType') || str('backend'), type, isCpu };
}

/**
 * The error when no adapter was found. With an adapter name asked for (--adapter / RADGRAD_ADAPTER)
 * while Dawn lists adapters, only the name filter is at fault: say so and point at `radgrad info`
 * instead of at installing a driver.
 */
function noAdapter(detail: string, adapterName: string | undefined): NoAdapterError {
  if (!adapterName || !/\* backend:/.test(detail)) return new NoAdapterError(detail);
  return new NoAdapterError(
    `no adapter name contains '${adapterName}'; ${detail.trim()}`,
    `the adapter name filter '${adapterName}' (--adapter / RADGRAD_ADAPTER) matches none of the adapters listed: run \`radgrad info\` without it to see the adapter radgrad picks, then pass part of a listed name`,
  );
}

export class GpuContext {
  readonly pool: BufferPool;
  readonly queue: CommandQueue;
  readonly pipelines: PipelineCache;
  readonly caps: GpuCapabilities;
  readonly adapterInfo: AdapterDescription;
  readonly features: ReadonlySet<string>;
  readonly wgslFeatures: ReadonlySet<string>;
  readonly limits: Readonly<Record<string, number>>;
  private lostError: DeviceLostError | undefined;
  private asyncErrors: Array<GpuError | KernelCompileError> = [];
  private destroyed = false;

  private constructor(
    // Held for the device's lifetime on purpose (see the file comment).
    private instance: GPU | undefined,
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly options: GpuOptions,
    /** The Dawn toggles enabled on this instance (options, RADGRAD_DAWN_TOGGLES, unsafe features). */
    readonly toggles: readonly string[] = [],
  ) {
    this.adapterInfo = describe(adapter.info);
    this.features = new Set([...device.features] as string[]);
    const wgsl = (instance as unknown as { wgslLanguageFeatures?: Iterable<string> }).wgslLanguageFeatures;
    this.wgslFeatures = new Set(wgsl ? [...wgsl] : []);
    const limits: Record<string, number> = {};
    for (const k in device.limits) {
      const v = (device.limits as unknown as Record<string, unknown>)[k];
      if (typeof v === 'number') limits[k] = v;
    }
    this.limits = limits;
    const info = adapter.info as unknown as { subgroupMinSize?: number; subgroupMaxSize?: number };
    this.caps = {
      f16: this.features.has('shader-f16'),
      subgroups: this.features.has('subgroups'),
      timestampQuery: this.features.has('timestamp-query'),
      subgroupMatrix: this.features.has('chromium-experimental-subgroup-matrix'),
      dot4I8Packed: this.wgslFeatures.has('packed_4x8_integer_dot_product'),
      subgroupMinSize: info.subgroupMinSize ?? 0,
      subgroupMaxSize: info.subgroupMaxSize ?? 0,
    };
    this.pool = new BufferPool(this);
    this.queue = new CommandQueue(this);
    this.pipelines = new PipelineCache(this);
    device.lost.then((info) => {
      if (!this.destroyed) this.lostError = new DeviceLostError(info.reason ?? 'unknown', info.message);
    });
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      const kind = e.constructor?.name?.replace(/^GPU|Error$/g, '').toLowerCase() || 'unknown';
      this.asyncErrors.push(new GpuError(kind, e.message));
    });
  }

  static async create(opts: GpuOptions = {}): Promise<GpuContext> {
    const adapterName = opts.adapter ?? process.env.RADGRAD_ADAPTER;
    const backend = opts.backend ?? process.env.RADGRAD_BACKEND;
    const envToggles = (process.env.RADGRAD_DAWN_TOGGLES ?? '').split(',').map((t) => t.trim()).filter(Boolean);
    const toggles = [...(opts.enableToggles ?? []), ...envToggles];
    if (opts.unsafeFeatures ?? process.env.RADGRAD_UNSAFE_GPU_FEATURES === '1') {
      toggles.push('allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia');
    }
    const dawnOptions: string[] = [];
    if (toggles.length) dawnOptions.push(`enable-dawn-features=${toggles.join(',')}`);
    // Full-resolution GPU timestamps: Dawn rounds them (a browser's timing-attack guard) unless told
    // not to, and kernel benchmarks on a fast GPU then read whole multiples of the rounding step.
    dawnOptions.push('disable-dawn-features=timestamp_quantization');
    if (adapterName) dawnOptions.push(`adapter=${adapterName}`);
    if (backend) dawnOptions.push(`backend=${backend}`);
    let instance: GPU;
    try {
      instance = create(dawnOptions);
    } catch (e) {
      throw new NoAdapterError(`Dawn refused options [${dawnOptions.join(' ')}]: ${(e as Error).message}`);
    }
    let adapter: GPUAdapter | null = null;
    try {
      // Hardware first (Dawn orders discrete > integrated > CPU), then the compatibility path (GL ES).
      adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) adapter = await instance.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    } catch (e) {
      throw noAdapter((e as Error).message, adapterName);
    }
    if (!adapter) throw noAdapter(adapterName ? `no adapter matches '${adapterName}'` : 'requestAdapter returned null', adapterName);
    const want = opts.optionalFeatures === false ? [] : OPTIONAL_FEATURES;
    const requiredFeatures = want.filter((f) => adapter!.features.has(f)) as GPUFeatureName[];
    const requiredLimits: Record<string, number> = {};
    for (const k of CORE_LIMITS) {
      const v = (adapter.limits as unknown as Record<string, number>)[k];
      if (typeof v === 'number') requiredLimits[k] = v;
    }
    const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'radgrad' });
    return new GpuContext(instance, adapter, device, opts, [...new Set(toggles)].sort());
  }

  /** Throws the first pending asynchronous error (device lost, validation, OOM), if any. */
  check(context?: string): void {
    if (this.destroyed) throw new GpuError('usage', 'the GPU context was shut down', context);
    if (this.lostError) throw this.lostError;
    if (!this.asyncErrors.length) return;
    // A compile error explains the validation errors that follow from the invalid pipeline.
    const compile = this.asyncErrors.find((e) => e instanceof KernelCompileError);
    const first = compile ?? this.asyncErrors[0]!;
    this.asyncErrors.length = 0;
    if (first instanceof KernelCompileError) throw first;
    const bad = /Invalid ComputePipeline "([^"]+)"/.exec(first.message);
    if (bad) throw new GpuError('compile', `kernel '${bad[1]}' is invalid (failed to compile); await ctx.pipelines.compile(decl) shows the WGSL error`, context);
    throw context && !first.context ? new GpuError(first.kind, first.message, context) : first;
  }

  /** Records an error found by an error scope (pipeline creation...) to be thrown at the next check. */
  pushAsyncError(e: GpuError | KernelCompileError): void {
    this.asyncErrors.push(e);
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /** Finish pending work, free pooled buffers, destroy the device, then drop the instance. */
  async shutdown(): Promise<void> {
    if (this.destroyed) return;
    try {
      this.queue.flush();
      await Promise.race([this.device.queue.onSubmittedWorkDone(), this.device.lost]);
    } finally {
      this.destroyed = true;
      this.pool.destroyAll();
      this.device.destroy();
      // Let dawn.node process the destruction before the instance reference goes away.
      await new Promise((r) => setTimeout(r, 0));
      this.instance = undefined;
    }
  }
}

let current: GpuContext | undefined;
let pending: Promise<GpuContext> | undefined;

/** Creates (once) and returns the process-wide GPU context. */
export async function initGpu(opts: GpuOptions = {}): Promise<GpuContext> {
  if (current && !current.isDestroyed) return current;
  if (!pending) {
    pending = GpuContext.create(opts).then(
      (ctx) => ((current = ctx), (pending = undefined), ctx),
      (e) => {
        pending = undefined;
        throw e;
      },
    );
  }
  return pending;
}

/** The current GPU context; throws if initGpu() has not completed. */
export function gpu(): GpuContext {
  if (!current || current.isDestroyed) throw new GpuError('usage', 'GPU not initialised: await initGpu() first');
  return current;
}

export function hasGpu(): boolean {
  return !!current && !current.isDestroyed;
}

/** Shuts the process-wide context down so that the process can exit promptly. */
export async function shutdownGpu(): Promise<void> {
  const ctx = current;
  current = undefined;
  if (ctx) await ctx.shutdown();
}

/** The WebGPU backend: every primitive of the Backend interface as WGSL kernels through Dawn. */
import { initGpu, type GpuContext, type GpuOptions } from '../../gpu/device.js';
import { setBackend } from '../registry.js';
import type { Backend } from '../types.js';
import { memoryOps } from './memory.js';
import { elementwiseOps } from './elementwise.js';
import { layoutOps } from './layout.js';
import { reduceOps } from './reduce.js';
import { matmulOps } from './matmul.js';
import { nnOps } from './nn.js';
import { optimOps } from './optim.js';
import { prepareInt8Smat } from './int8.js';
import { randomOps } from './random.js';
import { loadTuning, type TuningStatus } from './tuning_file.js';

export function createWebGpuBackend(ctx: GpuContext): Backend {
  return {
    name: 'webgpu',
    ...memoryOps(ctx),
    ...elementwiseOps(ctx),
    ...layoutOps(ctx),
    ...reduceOps(ctx),
    ...matmulOps(ctx),
    ...nnOps(ctx),
    ...optimOps(ctx),
    ...randomOps(ctx),
  };
}

let tuning: TuningStatus | undefined;
/** What initWebGpuBackend did about the saved kernel tuning (`radgrad tune`; the bench runner prints it), or undefined before it ran. */
export function tuningStatus(): TuningStatus | undefined {
  return tuning;
}

/** Initialises the GPU (once), applies this adapter's saved kernel tuning, and makes the WebGPU backend current. */
export async function initWebGpuBackend(opts: GpuOptions = {}): Promise<Backend> {
  const ctx = await initGpu(opts);
  const b = createWebGpuBackend(ctx);
  // The tensor-core int8 kernel needs its matrix type order settled by a trial compile (never throws).
  if (ctx.features.has('chromium-experimental-subgroup-matrix')) await prepareInt8Smat(ctx);
  // After that compile: the saved int8 tiles apply to the kernel that will run (`radgrad info` reports it).
  tuning = loadTuning(ctx);
  setBackend(b);
  return b;
}

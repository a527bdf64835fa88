/**
 * radgrad: reverse-mode autograd on WebGPU (Dawn) in TypeScript.
 *
 *   import { initWebGpuBackend, tensor, matmul, backward, tidy, AdamW } from 'radgrad';
 *   import { nn } from 'radgrad';          // modules and initialisers: nn.Linear, nn.kaimingUniform, ...
 *   import { Linear } from 'radgrad/nn';   // the same, as a subpath
 */
export * from './errors.js';
export * from './backend/types.js';
export { setBackend, getBackend, withBackend } from './backend/registry.js';
export { initWebGpuBackend, createWebGpuBackend } from './backend/webgpu/index.js';
export { cpuBackend } from './backend/cpu/index.js';
export { initGpu, gpu, shutdownGpu, GpuContext, type GpuOptions, type GpuCapabilities } from './gpu/device.js';
export { Tensor, DisposedTensorError } from './tensor/tensor.js';
export { tidy, keep } from './tensor/scope.js';
export { backward, noGrad, isGradEnabled, zeroGrad, AutogradError } from './autograd/tape.js';
export { checkpoint, type CheckpointOptions } from './autograd/checkpoint.js';
export { release, releaseTuning } from './autograd/release.js';
export * from './ops/index.js';
/** Modules (Module, Linear, LayerNorm, Embedding, Dropout, ModuleList) and torch's initialisers, as a namespace: nn.zeros is the initialiser, not the op. */
export * as nn from './nn/index.js';

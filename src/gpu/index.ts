export { GpuContext, initGpu, gpu, hasGpu, shutdownGpu, type GpuOptions, type GpuCapabilities, type AdapterDescription } from './device.js';
export { BufferPool, bucketSize, type PooledBuffer, type PoolStats, type BufferKind } from './buffer_pool.js';
export { CommandQueue, type LaunchArgs, type TimingResult } from './queue.js';
export { generateHeader, uniformLayout, packUniforms, pipelineKey, grid1d, kernelSource, type KernelDecl, type BindingDecl, type UniformType } from './kernel.js';
export { NoAdapterError, DeviceLostError, GpuError, KernelCompileError, BufferTooLargeError } from './errors.js';
export { adapterReport, type AdapterReport } from './info.js';

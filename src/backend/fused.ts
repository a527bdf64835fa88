/** Registers the fused kernels (src/backend/kernels.ts) of the WebGPU and CPU backends. */
import { gpu } from '../gpu/device.js';
import { registerKernels } from './kernels.js';
import { int8Ops } from './webgpu/int8.js';
import { cpuInt8Ops } from './cpu/int8.js';
import { attentionOps } from './webgpu/attention.js';
import { cpuAttentionOps } from './cpu/attention.js';
import { loraOps } from './webgpu/lora.js';
import { cpuLoraOps } from './cpu/lora.js';
import { linear3Ops } from './webgpu/linear3.js';
import { cpuLinear3Ops } from './cpu/linear3.js';

registerKernels('webgpu', () => {
  const ctx = gpu();
  return { ...int8Ops(ctx), ...attentionOps(ctx), ...loraOps(ctx), ...linear3Ops(ctx) };
});
registerKernels('cpu', (b) => ({ ...cpuInt8Ops(), ...cpuAttentionOps(), ...cpuLoraOps(), ...cpuLinear3Ops(b) }));

export { kernelsFor } from './kernels.js';

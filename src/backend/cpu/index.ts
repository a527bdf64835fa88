/** The CPU reference backend (float64): the oracle WGSL kernels and gradients are tested against. */
import type { Backend } from '../types.js';
import { cpuMemoryOps } from './memory.js';
import { cpuElementwiseOps } from './elementwise.js';
import { cpuLayoutOps } from './layout.js';
import { cpuReduceOps } from './reduce.js';
import { cpuMatmulOps } from './matmul.js';
import { cpuNnOps } from './nn.js';
import { cpuOptimOps } from './optim.js';
import { cpuRandomOps } from './random.js';

let instance: Backend | undefined;

export function cpuBackend(): Backend {
  instance ??= {
    name: 'cpu',
    ...cpuMemoryOps(),
    ...cpuElementwiseOps(),
    ...cpuLayoutOps(),
    ...cpuReduceOps(),
    ...cpuMatmulOps(),
    ...cpuNnOps(),
    ...cpuOptimOps(),
    ...cpuRandomOps(),
  };
  return instance;
}

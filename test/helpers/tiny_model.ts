/**
 * The tiny golden BioGPT (../shared/golden/tiny_biogpt) loaded once on the WebGPU backend for a
 * generate test file or describe block: before() loads it (in eval mode), after() disposes it and
 * shuts the GPU down. Read `gpu` and `model` inside the tests, after before() has run.
 */
import { after, before } from 'node:test';
import { shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import '../../src/ops/index.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { sharedPath } from '../../src/util/paths.js';

/** The tiny golden model folder, or undefined when ../shared lacks it. */
export const TINY_MODEL_DIR = sharedPath('golden', 'tiny_biogpt');

export interface TinyModel {
  readonly gpu: Backend;
  readonly model: BioGptForCausalLM;
}

/** Registers the hooks; `skip` true (the file is skipped) loads nothing. */
export function useTinyModel(skip: unknown = !TINY_MODEL_DIR): TinyModel {
  let gpu: Backend | undefined;
  let model: BioGptForCausalLM | undefined;
  before(async () => {
    if (skip) return;
    gpu = await initWebGpuBackend();
    model = withBackend(gpu, () => BioGptForCausalLM.fromPretrained(TINY_MODEL_DIR!));
    model.eval();
  });
  after(async () => {
    if (model) withBackend(gpu!, () => model!.dispose());
    await shutdownGpu();
  });
  return {
    get gpu() {
      return gpu!;
    },
    get model() {
      return model!;
    },
  };
}

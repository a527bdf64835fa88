/**
 * Loading a Hugging Face BioGPT directory (config.json + model.safetensors | pytorch_model.bin |
 * sharded index): the config is parsed and every tensor's name, shape and dtype is checked against
 * it before anything is allocated, then the model is built with deferred parameters and each tensor
 * is read, converted to f32 if needed, uploaded and dropped, one at a time. Host memory therefore
 * peaks near the largest tensor (plus the reader's index), not the checkpoint size.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FileFormatError, RadgradError } from '../../errors.js';
import { openCheckpoint, openCheckpointFile } from '../../io/checkpoint.js';
import { loadBioGptConfig, validateCheckpointShapes, type BioGptConfig, type ShapeReport } from '../../io/biogpt_config.js';
import type { CheckpointReader } from '../../io/reader.js';
import { numel, type DType } from '../../io/dtype.js';
import type { Module } from '../../nn/module.js';

export interface FromPretrainedOptions {
  /**
   * Checkpoint file to read: a name inside the directory ("pytorch_model.bin") or a path. Default:
   * the first of model.safetensors, model.safetensors.index.json, pytorch_model.bin,
   * pytorch_model.bin.index.json (transformers' order, src/io/checkpoint.ts CHECKPOINT_FILES).
   */
  checkpoint?: string;
  /** Parameters require grad (default true). false freezes the model (e.g. before adding LoRA). */
  trainable?: boolean;
  /** Train mode after loading (default false: eval, as transformers' from_pretrained). */
  train?: boolean;
  /** Progress: called after each tensor is uploaded. */
  onTensor?: (name: string, index: number, total: number) => void;
}

export interface LoadReport {
  /** The checkpoint file read. */
  file: string;
  /** Checkpoint keys the model does not use (a tied head stored twice is not listed). */
  unexpected: string[];
  /** Parameters loaded. */
  tensors: number;
  /** Elements loaded. */
  elements: number;
  /**
   * The dtype the checkpoint stores the loaded parameters in (the one holding most elements when
   * they differ), e.g. 'f16' for a half-precision save: weights are upcast to f32 on load, and
   * `radgrad merge` writes this dtype back, as PEFT's merge_and_unload + save_pretrained keep it.
   */
  dtype: DType;
}

/** Opens the config and checkpoint of a model directory and validates names and shapes. */
export function openPretrained(dir: string, opts: Pick<FromPretrainedOptions, 'checkpoint'> = {}): { config: BioGptConfig; reader: CheckpointReader; report: ShapeReport } {
  if (!fs.existsSync(dir)) throw new FileFormatError(dir, 'no such model directory', { hint: 'pass a Hugging Face model folder holding config.json and model.safetensors or pytorch_model.bin' });
  const isDir = fs.statSync(dir).isDirectory();
  const config = loadBioGptConfig(isDir ? dir : path.join(path.dirname(dir), 'config.json'));
  let reader: CheckpointReader;
  if (opts.checkpoint) {
    const file = path.isAbsolute(opts.checkpoint) || !isDir ? opts.checkpoint : path.join(dir, opts.checkpoint);
    if (!fs.existsSync(file)) throw new FileFormatError(file, 'no such checkpoint file');
    reader = openCheckpointFile(file);
  } else {
    reader = openCheckpoint(dir);
  }
  try {
    return { config, reader, report: validateCheckpointShapes(config, reader) };
  } catch (e) {
    reader.close();
    throw e;
  }
}

/**
 * Uploads every parameter of `model` (BioGptForCausalLM paths) from `reader`, tensor by tensor.
 * The tied head (output_projection.weight stored beside embed_tokens, as torch.save writes it) is
 * skipped: the model's head is the embedding.
 */
export function loadPretrainedWeights(model: Module, reader: CheckpointReader, report: ShapeReport, opts: Pick<FromPretrainedOptions, 'onTensor'> = {}): LoadReport {
  const total = model.parameterShapes().length;
  let i = 0;
  let elements = 0;
  const res = model.loadStateDict(reader, {
    strict: false,
    keyOf: (p) => report.keyOf.get(p) ?? p,
    onTensor: (name, n) => {
      elements += n;
      opts.onTensor?.(name, ++i, total);
    },
  });
  if (res.missing.length) {
    throw new RadgradError(`${reader.file}: ${res.missing.length} parameters missing: ${res.missing.slice(0, 6).join(', ')}${res.missing.length > 6 ? ', ...' : ''}`);
  }
  const tiedHead = !model.parameterShapes().some(([p]) => p === 'output_projection.weight');
  const unexpected = res.unexpected.filter((k) => !(tiedHead && k === 'output_projection.weight'));
  return { file: reader.file, unexpected, tensors: res.loaded, elements, dtype: storedDtype(reader, report) };
}

/** The dtype holding most of the checkpoint's model parameters (ties: the first key's). */
function storedDtype(reader: CheckpointReader, report: ShapeReport): DType {
  const count = new Map<DType, number>();
  for (const key of report.keyOf.values()) {
    const inf = reader.info(key);
    count.set(inf.dtype, (count.get(inf.dtype) ?? 0) + numel(inf.shape));
  }
  let best: DType = 'f32';
  let n = -1;
  for (const [d, c] of count) if (c > n) [best, n] = [d, c];
  return best;
}

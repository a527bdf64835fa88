/**
 * Opening a checkpoint by directory or file, whatever its format: single-file safetensors or torch
 * .bin, or a sharded set described by `*.index.json` ({metadata, weight_map: {tensor: shard}}).
 */
import fs from 'node:fs';
import path from 'node:path';
import { FileFormatError } from '../errors.js';
import type { HostTensor } from './dtype.js';
import { BaseReader, type CheckpointReader, type TensorInfo } from './reader.js';
import { SafetensorsReader } from './safetensors.js';
import { TorchBinReader } from './torch_bin.js';

/**
 * Files tried in a model directory, in order: transformers' `from_pretrained` (modeling_utils, local
 * folder, default `use_safetensors=None`) prefers safetensors, single file then sharded index, over
 * the pickle formats, single file then sharded index.
 */
export const CHECKPOINT_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'] as const;

/** Opens one checkpoint file, choosing the format from its first bytes (then its name). */
export function openCheckpointFile(file: string): CheckpointReader {
  if (file.endsWith('.index.json')) return ShardedReader.open(file);
  const head = Buffer.alloc(4);
  const fd = fs.openSync(file, 'r');
  let n: number;
  try {
    n = fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (n === 4 && head.readUInt32LE(0) === 0x04034b50) return TorchBinReader.open(file);
  if (file.endsWith('.bin') || file.endsWith('.pt') || file.endsWith('.pth')) return TorchBinReader.open(file);
  return SafetensorsReader.open(file);
}

/** Opens a model directory (the first of CHECKPOINT_FILES present) or a checkpoint file directly. */
export function openCheckpoint(modelDirOrFile: string): CheckpointReader {
  if (!fs.existsSync(modelDirOrFile)) throw new FileFormatError(modelDirOrFile, 'no such file or directory');
  if (!fs.statSync(modelDirOrFile).isDirectory()) return openCheckpointFile(modelDirOrFile);
  for (const f of CHECKPOINT_FILES) {
    const p = path.join(modelDirOrFile, f);
    if (fs.existsSync(p)) return openCheckpointFile(p);
  }
  throw new FileFormatError(modelDirOrFile, `no checkpoint found (looked for ${CHECKPOINT_FILES.join(', ')})`);
}

/** A sharded checkpoint: shards are opened on first use and kept open until close(). */
export class ShardedReader extends BaseReader {
  private readonly shardOf = new Map<string, string>();
  private readonly open = new Map<string, CheckpointReader>();
  readonly metadata: Record<string, unknown>;

  private constructor(file: string, index: unknown) {
    super(file);
    if (typeof index !== 'object' || index === null || Array.isArray(index)) throw new FileFormatError(file, 'index is not a JSON object');
    const wm = (index as Record<string, unknown>).weight_map;
    if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) throw new FileFormatError(file, 'index has no "weight_map" object');
    const dir = path.dirname(file);
    for (const [k, v] of Object.entries(wm)) {
      // Shard names are plain file names beside the index; refuse paths that escape the folder.
      if (typeof v !== 'string' || v.includes('/') || v.includes('\\') || v === '..' || v === '.') throw new FileFormatError(file, `weight_map['${k}'] is not a shard file name`);
      this.shardOf.set(k, path.join(dir, v));
    }
    const md = (index as Record<string, unknown>).metadata;
    this.metadata = typeof md === 'object' && md !== null ? (md as Record<string, unknown>) : {};
  }

  static open(file: string): ShardedReader {
    let index: unknown;
    try {
      index = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new FileFormatError(file, `index is not valid JSON: ${(e as Error).message}`);
    }
    return new ShardedReader(file, index);
  }

  private shard(name: string): CheckpointReader {
    this.assertOpen();
    const f = this.shardOf.get(name) ?? this.missing(name);
    let r = this.open.get(f);
    if (!r) {
      if (!fs.existsSync(f)) throw new FileFormatError(this.file, `shard ${path.basename(f)} (holding '${name}') is missing`);
      r = openCheckpointFile(f);
      this.open.set(f, r);
    }
    if (!r.has(name)) throw new FileFormatError(f, `the index says this shard holds '${name}', but it does not`);
    return r;
  }

  keys(): string[] {
    return [...this.shardOf.keys()];
  }
  override has(name: string): boolean {
    return this.shardOf.has(name);
  }
  info(name: string): TensorInfo {
    return this.shard(name).info(name);
  }
  read(name: string): HostTensor {
    return this.shard(name).read(name);
  }
  override readF32(name: string): Float32Array {
    return this.shard(name).readF32(name);
  }
  override readInto(name: string, dst: Uint8Array): void {
    this.shard(name).readInto(name, dst);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.open.values()) r.close();
    this.open.clear();
  }
}

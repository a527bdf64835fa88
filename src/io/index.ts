/** Checkpoint I/O: safetensors, torch .bin (zip + restricted pickle), BioGPT config, PEFT adapters. */
export * from './dtype.js';
export * from './io_errors.js';
export * from './reader.js';
export { SafetensorsReader, writeSafetensors, readSafetensors, MAX_HEADER_BYTES, type SafetensorsWriteOptions } from './safetensors.js';
export { TorchBinReader, writeTorchBin, contiguousStrides, type TorchBinWriteOptions } from './torch_bin.js';
export { ZipReader, type ZipEntry } from './zip.js';
export { ZipWriter, type ZipWriterOptions } from './zip_writer.js';
export { unpickle, PickleBuilder, PyDict, type PyCallable, type UnpickleOptions } from './pickle.js';
export { openCheckpoint, openCheckpointFile, ShardedReader, CHECKPOINT_FILES } from './checkpoint.js';
export * from './biogpt_config.js';
export * from './peft_adapter.js';
export { pyJsonDumps, pyFloatRepr, PyFloat } from './pyjson.js';
export { writeFileAtomic, writeDirAtomic } from '../util/atomic.js';

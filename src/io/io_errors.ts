/**
 * Typed errors for checkpoint I/O. All are FileFormatErrors (file + problem); the subclasses add
 * the tensor, config field or pickle global involved so callers and tests can branch on them.
 */
import { FileFormatError } from '../errors.js';

/** A problem with one named tensor (bad offsets, shape/dtype mismatch, unsupported dtype...). */
export class TensorFormatError extends FileFormatError {
  constructor(
    file: string,
    readonly tensor: string,
    problem: string,
    options?: { cause?: unknown; hint?: string },
  ) {
    super(file, `tensor '${tensor}': ${problem}`, options);
  }
}

/** A pickle referenced a global outside the state-dict allow-list; nothing was executed. */
export class UnsafePickleError extends FileFormatError {
  constructor(
    file: string,
    readonly global: string,
  ) {
    super(file, `pickle references forbidden global '${global}' (only state-dict globals are allowed; nothing was executed)`, {
      hint: 'convert the checkpoint to safetensors, or re-save it with torch.save(model.state_dict())',
    });
  }
}

/**
 * A torch state dict whose storage class (`torch.ComplexFloatStorage`) holds a dtype radgrad does not
 * read. The file is a well-formed state dict, unlike an UnsafePickleError.
 */
export class UnsupportedDTypeError extends FileFormatError {
  constructor(
    file: string,
    readonly storage: string,
    readonly dtype: string,
    supported: readonly string[],
  ) {
    super(file, `tensor dtype ${dtype} (${storage}) is not supported; supported: ${supported.join(', ')}`, {
      // Not "an integer dtype": uint16/32/64 are integers and refused; the message lists what is read.
      hint: 'cast those tensors to one of the supported dtypes above before torch.save',
    });
  }
}

/** A config file with a missing, mistyped or inconsistent field. */
export class ConfigFieldError extends FileFormatError {
  constructor(
    file: string,
    readonly field: string,
    problem: string,
  ) {
    super(file, `field '${field}': ${problem}`);
  }
}

/** Weights that do not match what the config says (missing tensor, wrong shape). */
export class CheckpointMismatchError extends FileFormatError {
  constructor(
    file: string,
    readonly issues: string[],
    readonly configFile?: string,
  ) {
    super(file, `weights do not match the config${configFile ? ` ${configFile}` : ''}: ${issues.slice(0, 8).join('; ')}${issues.length > 8 ? `; ... (${issues.length} issues)` : ''}`);
  }
}

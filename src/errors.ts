/**
 * Typed errors. Every error names where it happened (op, file, kernel...) and, where it
 * helps, what was expected and what was got, so a user can act on the message alone.
 */
export class RadgradError extends Error {
  /** Optional one-line hint on what to do; CLI prints it after the message. */
  hint?: string;
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    if (options?.hint) this.hint = options.hint;
  }
}

/** A bad argument to an op: names the op, the argument, what was expected and what was got. */
export class OpArgumentError extends RadgradError {
  constructor(
    readonly op: string,
    readonly arg: string,
    readonly expected: string,
    readonly got: string,
  ) {
    super(`${op}: argument '${arg}' expected ${expected}, got ${got}`);
  }
}

/** Shape mismatch between operands (broadcasting, matmul inner dims, ...). */
export class ShapeError extends OpArgumentError {}

/** A file could not be read or is malformed: names the file and what is wrong. */
export class FileFormatError extends RadgradError {
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown; hint?: string },
  ) {
    super(`${file}: ${problem}`, options);
  }
}

import { RadgradError } from '../errors.js';

const INSTALL_HINT =
  'no GPU adapter: install a Vulkan driver. On Debian bookworm without a GPU run `npm run setup` ' +
  '(it installs Mesa lavapipe: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1), ' +
  'or pick another adapter with RADGRAD_ADAPTER=<name> / --adapter <name>';

/**
 * No WebGPU adapter could be found; the hint says how to install the CPU driver, or, when an
 * adapter name was asked for and others exist, how to see their names.
 */
export class NoAdapterError extends RadgradError {
  constructor(detail: string, hint: string = INSTALL_HINT) {
    super(`radgrad: no WebGPU adapter found (${detail})`, { hint });
  }
}

/** The device was lost (driver reset, destroyed, out of memory); further GPU work is refused. */
export class DeviceLostError extends RadgradError {
  constructor(readonly reason: string, message: string) {
    super(`radgrad: GPU device lost (${reason}): ${message}`);
  }
}

/** An error the WebGPU implementation reported asynchronously (validation, out of memory, internal). */
export class GpuError extends RadgradError {
  constructor(readonly kind: string, message: string, readonly context?: string) {
    super(`radgrad: GPU ${kind} error${context ? ` in ${context}` : ''}: ${message}`);
  }
}

/** A WGSL kernel failed to compile; names the kernel, the line in its .wgsl body and the message. */
export class KernelCompileError extends RadgradError {
  constructor(
    readonly kernel: string,
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`kernel '${kernel}' failed to compile (${file}:${line}): ${detail}`);
  }
}

/** A buffer larger than the adapter allows was requested. */
export class BufferTooLargeError extends RadgradError {
  constructor(readonly requested: number, readonly limit: number, readonly limitName: string, context: string) {
    super(
      `${context}: buffer of ${requested} bytes exceeds the adapter's ${limitName} (${limit} bytes)`,
      { hint: 'use smaller batches/sequences, or an adapter with larger limits (radgrad info shows them)' },
    );
  }
}

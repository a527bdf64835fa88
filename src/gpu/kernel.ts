/**
 * One typed declaration per kernel. The declaration generates the WGSL header (enables, aliases,
 * the uniform struct, every binding, override constants) that is prepended to the body in
 * shaders/<family>/<file>.wgsl, and the same declaration drives binding and uniform packing at
 * launch, so binding numbers and struct offsets are never written twice.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util/paths.js';

export type ScalarType = 'f32' | 'i32' | 'u32' | 'f16';
/** Uniform field types: scalars, or a fixed array of vec4<u32|i32|f32> (shapes, strides). */
export type UniformType = 'u32' | 'i32' | 'f32' | `array<vec4<${'u32' | 'i32' | 'f32'}>, ${number}>`;
export type OverrideType = 'u32' | 'i32' | 'f32' | 'bool';

export interface BindingDecl {
  readonly name: string;
  /** WGSL element type of the storage array (e.g. 'f32', 'u32', 'T', 'atomic<u32>', 'vec4<f32>'). */
  readonly type: string;
  readonly access: 'read' | 'read_write';
}

export interface KernelDecl {
  /** Unique kernel name, used in errors, cache keys and benchmarks. */
  readonly name: string;
  /** Folder under shaders/. */
  readonly family: string;
  /** Body file name without extension (defaults to name). */
  readonly file?: string;
  readonly bindings: readonly BindingDecl[];
  /** Uniform struct fields, in order; omitted or empty means no uniform binding. */
  readonly uniforms?: Readonly<Record<string, UniformType>>;
  /** `override` constants with their defaults (tile sizes, workgroup sizes, op selectors). */
  readonly overrides?: Readonly<Record<string, { type: OverrideType; value: number | boolean }>>;
  /** `alias NAME = type;` lines, e.g. { T: 'f16' } for a dtype variant. */
  readonly aliases?: Readonly<Record<string, string>>;
  /** WGSL extensions to enable ('f16', 'subgroups'). */
  readonly enables?: readonly string[];
  /** Shared WGSL snippets (paths under shaders/, e.g. 'common/strided.wgsl') placed before the body. */
  readonly includes?: readonly string[];
}

export interface UniformLayout {
  readonly fields: ReadonlyArray<{ name: string; type: UniformType; offset: number; size: number }>;
  readonly byteSize: number;
}

function fieldAlignSize(t: UniformType): [number, number] {
  const m = /^array<vec4<\w+>, (\d+)>$/.exec(t);
  if (m) return [16, 16 * Number(m[1])];
  return [4, 4];
}

/** Computes WGSL uniform-address-space offsets (vec4 arrays align to 16; struct size rounded to 16). */
export function uniformLayout(decl: KernelDecl): UniformLayout {
  let offset = 0;
  const fields: Array<{ name: string; type: UniformType; offset: number; size: number }> = [];
  for (const [name, type] of Object.entries(decl.uniforms ?? {})) {
    const [align, size] = fieldAlignSize(type);
    offset = Math.ceil(offset / align) * align;
    fields.push({ name, type, offset, size });
    offset += size;
  }
  return { fields, byteSize: Math.max(16, Math.ceil(offset / 16) * 16) };
}

/** Binding index of the uniform struct: right after the storage bindings. */
export function uniformBindingIndex(decl: KernelDecl): number {
  return decl.bindings.length;
}

/** The generated WGSL header for a declaration. */
export function generateHeader(decl: KernelDecl): string {
  const lines: string[] = [`// generated from the declaration of kernel '${decl.name}'`];
  for (const e of decl.enables ?? []) lines.push(`enable ${e};`);
  for (const [k, v] of Object.entries(decl.aliases ?? {})) lines.push(`alias ${k} = ${v};`);
  const layout = uniformLayout(decl);
  if (layout.fields.length) {
    lines.push(`struct Params { ${layout.fields.map((f) => `${f.name}: ${f.type}`).join(', ')} }`);
  }
  decl.bindings.forEach((b, i) => {
    const access = b.type.startsWith('atomic') ? 'read_write' : b.access;
    lines.push(`@group(0) @binding(${i}) var<storage, ${access}> ${b.name}: array<${b.type}>;`);
  });
  if (layout.fields.length) lines.push(`@group(0) @binding(${uniformBindingIndex(decl)}) var<uniform> params: Params;`);
  for (const [k, o] of Object.entries(decl.overrides ?? {})) {
    const v = o.type === 'bool' ? String(Boolean(o.value)) : o.type === 'f32' ? `${Number(o.value)}` : `${Math.trunc(Number(o.value))}${o.type === 'u32' ? 'u' : 'i'}`;
    lines.push(`override ${k}: ${o.type} = ${v};`);
  }
  return lines.join('\n') + '\n';
}

const bodyCache = new Map<string, string>();

export function kernelFile(decl: KernelDecl): string {
  return path.join('shaders', decl.family, `${decl.file ?? decl.name}.wgsl`);
}

function readShader(file: string): string {
  let body = bodyCache.get(file);
  if (body === undefined) {
    body = readFileSync(path.join(packageRoot(), file), 'utf8');
    bodyCache.set(file, body);
  }
  return body;
}

/**
 * One part of a kernel's source: lines first .. first + lines - 1 (1-based) of the concatenated
 * code came from `file` (the generated header, an include, or the body, in that order).
 */
export interface SourceSegment {
  readonly file: string;
  readonly first: number;
  readonly lines: number;
}

/**
 * Header + includes + body. `segments` lets compile errors point at the file and line a message is
 * about (an include's own line, not the line in the concatenation); `headerLines` counts the header
 * and the includes, so body line n is code line headerLines + n.
 */
export function kernelSource(decl: KernelDecl): { code: string; headerLines: number; file: string; segments: readonly SourceSegment[] } {
  const file = kernelFile(decl);
  const body = readShader(file);
  let header = generateHeader(decl);
  const segments: SourceSegment[] = [{ file: `${file} (generated header)`, first: 1, lines: header.split('\n').length - 1 }];
  for (const inc of decl.includes ?? []) {
    const incFile = path.join('shaders', inc);
    const text = readShader(incFile).replace(/\n?$/, '\n');
    segments.push({ file: incFile, first: header.split('\n').length, lines: text.split('\n').length - 1 });
    header += text;
  }
  const headerLines = header.split('\n').length - 1;
  segments.push({ file, first: headerLines + 1, lines: body.split('\n').length });
  return { code: header + body, headerLines, file, segments };
}

/** The file and line within it of line `lineNum` of a kernel's concatenated source. */
export function sourceLine(segments: readonly SourceSegment[], lineNum: number): { file: string; line: number } {
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i]!;
    if (lineNum >= s.first) return { file: s.file, line: lineNum - s.first + 1 };
  }
  return { file: segments[0]?.file ?? '?', line: lineNum };
}

/** Writes uniform values into a byte array following the declaration's layout. */
export function packUniforms(decl: KernelDecl, values: Readonly<Record<string, number | ArrayLike<number>>>): ArrayBuffer {
  const layout = uniformLayout(decl);
  const buf = new ArrayBuffer(layout.byteSize);
  const dv = new DataView(buf);
  for (const f of layout.fields) {
    const v = values[f.name];
    if (v === undefined) throw new Error(`kernel '${decl.name}': uniform '${f.name}' not given`);
    const elem = f.type === 'f32' || f.type.includes('f32') ? 'f32' : f.type === 'i32' || f.type.includes('i32') ? 'i32' : 'u32';
    const put = (off: number, x: number) => {
      if (elem === 'f32') dv.setFloat32(off, x, true);
      else if (elem === 'i32') dv.setInt32(off, x, true);
      else dv.setUint32(off, x >>> 0, true);
    };
    if (typeof v === 'number') put(f.offset, v);
    else {
      const n = f.size / 4;
      if (v.length > n) throw new Error(`kernel '${decl.name}': uniform '${f.name}' holds ${n} values, got ${v.length}`);
      for (let i = 0; i < v.length; i++) put(f.offset + 4 * i, v[i]!);
    }
  }
  return buf;
}

/** Stable cache key of a declaration + override values. */
export function pipelineKey(decl: KernelDecl, constants: Readonly<Record<string, number | boolean>> = {}): string {
  const c = Object.keys(constants).sort().map((k) => `${k}=${Number(constants[k])}`).join(',');
  const a = Object.entries(decl.aliases ?? {}).map(([k, v]) => `${k}:${v}`).join(',');
  return `${decl.name}|${kernelFile(decl)}|${a}|${(decl.enables ?? []).join(',')}|${c}`;
}

/** Splits a large 1-D workgroup count over x and y (each dimension is limited, usually 65535). */
export function grid1d(workgroups: number, maxPerDim = 65535): [number, number, number] {
  if (workgroups <= maxPerDim) return [Math.max(1, workgroups), 1, 1];
  const y = Math.ceil(workgroups / maxPerDim);
  return [Math.ceil(workgroups / y), y, 1];
}

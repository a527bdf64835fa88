/**
 * JSON text exactly as Python's `json.dumps(obj, indent=2, sort_keys=True)` writes it, so files we
 * write for the Python stack (PEFT's adapter_config.json) are byte-identical to its own. The two
 * differences from JSON.stringify that matter: ASCII-only escaping, and floats vs ints (Python
 * prints 0.0 and 1e-05 where JS prints 0 and 0.00001), which needs to be told which values are floats.
 */

/** Marks a number to be printed as a Python float even when integral (0 -> 0.0). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Python's repr() of a float: shortest round-trip digits, exponent form outside [1e-4, 1e16). */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [m, e] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = m.replace('.', '');
  const exp = Number(e);
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1) || '0';
    return `${sign}${int}.${frac}`;
  }
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`; // UTF-16 units, like ensure_ascii
    else out += ch;
  }
  return out + '"';
}

export interface PyJsonOptions {
  /** Object keys whose numeric values (at any depth) are Python floats. */
  floatKeys?: ReadonlySet<string>;
  indent?: number;
}

/** Serializes like json.dumps(value, indent=2, sort_keys=True). */
export function pyJsonDumps(value: unknown, opts: PyJsonOptions = {}): string {
  const ind = ' '.repeat(opts.indent ?? 2);
  const floatKeys = opts.floatKeys ?? new Set<string>();
  const enc = (v: unknown, depth: number, asFloat: boolean): string => {
    if (v === null || v === undefined) return 'null';
    if (v instanceof PyFloat) return pyFloatRepr(v.value);
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') return asFloat || !Number.isInteger(v) ? pyFloatRepr(v) : String(v);
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'string') return pyString(v);
    const pad = '\n' + ind.repeat(depth + 1);
    const close = '\n' + ind.repeat(depth) ;
    if (Array.isArray(v)) {
      if (!v.length) return '[]';
      return '[' + v.map((x) => pad + enc(x, depth + 1, asFloat)).join(',') + close + ']';
    }
    if (typeof v === 'object') {
      const keys = Object.keys(v as object).sort();
      if (!keys.length) return '{}';
      const rec = v as Record<string, unknown>;
      return '{' + keys.map((k) => `${pad}${pyString(k)}: ${enc(rec[k], depth + 1, asFloat || floatKeys.has(k))}`).join(',') + close + '}';
    }
    throw new TypeError(`cannot serialize ${typeof v} as JSON`);
  };
  return enc(value, 0, false);
}

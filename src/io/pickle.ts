/**
 * A restricted pickle VM (protocols 0-5 opcodes a torch state dict uses) and a small protocol-2
 * emitter. The VM never imports or runs anything: GLOBAL/STACK_GLOBAL/INST go through a caller-
 * supplied allow-list that returns plain JS stand-ins, and anything else is refused by name.
 */
import { FileFormatError } from '../errors.js';
import { UnsafePickleError } from './io_errors.js';

/** A whitelisted Python callable, implemented in JS. */
export interface PyCallable {
  readonly qualname: string;
  call(args: unknown[]): unknown;
}

/** A Python dict (or OrderedDict): insertion-ordered entries plus attributes set by BUILD. */
export class PyDict {
  readonly map = new Map<unknown, unknown>();
  attrs: Record<string, unknown> = {};
  constructor(readonly kind: 'dict' | 'OrderedDict' = 'dict') {}
}

/** Tuples are frozen arrays; lists are ordinary arrays. */
export function isTuple(v: unknown): v is readonly unknown[] {
  return Array.isArray(v) && Object.isFrozen(v);
}
const tuple = (items: unknown[]): readonly unknown[] => Object.freeze(items);

export interface UnpickleOptions {
  /** For error messages. */
  file: string;
  /** Returns the stand-in for module.name, or undefined to refuse it (UnsafePickleError). */
  findGlobal(module: string, name: string): PyCallable | undefined;
  /** Resolves a persistent id (torch: a storage reference). Without it, PERSID opcodes are refused. */
  persistentLoad?(pid: unknown): unknown;
}

/** Runs the pickle program in `data` and returns the object STOP leaves on the stack. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions): unknown {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const file = opts.file;
  let p = 0;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const fail = (msg: string): never => {
    throw new FileFormatError(file, `pickle: ${msg} (at byte ${p})`);
  };
  const need = (n: number) => {
    if (n < 0 || p + n > buf.length) fail('truncated data');
  };
  const u8 = () => (need(1), buf[p++]!);
  const u16 = () => (need(2), (p += 2), buf.readUInt16LE(p - 2));
  const u32 = () => (need(4), (p += 4), buf.readUInt32LE(p - 4));
  const i32 = () => (need(4), (p += 4), buf.readInt32LE(p - 4));
  const u64 = () => {
    need(8);
    const v = buf.readBigUInt64LE(p);
    p += 8;
    if (v > BigInt(buf.length)) fail('length exceeds the data');
    return Number(v);
  };
  const bytes = (n: number) => (need(n), (p += n), buf.subarray(p - n, p));
  const line = () => {
    const end = buf.indexOf(0x0a, p);
    if (end < 0) fail('unterminated text argument');
    const s = buf.toString('latin1', p, end);
    p = end + 1;
    return s;
  };
  // Resolve `stack` at call time: popMark() in an argument swaps the current frame.
  const push = (v: unknown) => {
    stack.push(v);
  };
  const pop = () => (stack.length ? stack.pop() : fail('stack underflow'));
  const top = () => (stack.length ? stack[stack.length - 1] : fail('stack underflow'));
  const popMark = () => {
    const items = stack;
    stack = marks.pop() ?? fail('MARK expected');
    return items;
  };
  const resolve = (module: string, name: string): PyCallable => {
    const g = opts.findGlobal(module, name);
    if (!g) throw new UnsafePickleError(file, `${module}.${name}`);
    return g;
  };
  const callable = (f: unknown): PyCallable => {
    if (typeof f !== 'object' || f === null || typeof (f as PyCallable).call !== 'function') fail('call target is not an allowed global');
    return f as PyCallable;
  };
  const signedLE = (b: Buffer): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const textInt = (s: string): number | bigint => {
    const t = s.endsWith('L') ? s.slice(0, -1) : s;
    if (!/^[+-]?\d+$/.test(t)) fail(`bad integer literal '${s}'`);
    const v = BigInt(t);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const setItems = (d: unknown, items: unknown[]) => {
    if (!(d instanceof PyDict)) fail('SETITEM(S) target is not a dict');
    if (items.length % 2) fail('odd number of SETITEMS arguments');
    for (let i = 0; i < items.length; i += 2) (d as PyDict).map.set(items[i], items[i + 1]);
  };
  const appendItems = (l: unknown, items: unknown[]) => {
    if (!Array.isArray(l) || Object.isFrozen(l)) fail('APPEND(S) target is not a list');
    (l as unknown[]).push(...items);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME: framing is only a buffering hint
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) fail('STOP with an unbalanced stack');
        return stack[0];
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x49: {
        // INT (text); protocol 0 spells booleans I01 / I00
        const s = line();
        push(s === '01' ? true : s === '00' ? false : textInt(s));
        break;
      }
      case 0x4c: // LONG (text)
        push(textInt(line()));
        break;
      case 0x4a: // BININT
        push(i32());
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x8a: // LONG1
        push(signedLE(bytes(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        push(signedLE(bytes(n)));
        break;
      }
      case 0x46: {
        // FLOAT (text)
        const v = Number(line());
        if (Number.isNaN(v)) fail('bad float literal');
        push(v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        push(buf.readDoubleBE(p));
        p += 8;
        break;
      case 0x58: // BINUNICODE
        push(bytes(u32()).toString('utf8'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(bytes(u8()).toString('utf8'));
        break;
      case 0x8d: // BINUNICODE8
        push(bytes(u64()).toString('utf8'));
        break;
      case 0x56: // UNICODE (raw-unicode-escape text; fine for the ASCII torch writes)
        push(line());
        break;
      case 0x54: {
        // BINSTRING (py2 str)
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        push(bytes(n).toString('latin1'));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        push(bytes(u8()).toString('latin1'));
        break;
      case 0x53: {
        // STRING: a quoted py2 literal; only simple quoted text is accepted
        const s = line();
        const m = /^(['"])(.*)\1$/.exec(s);
        if (!m || m[2]!.includes('\\')) fail('unsupported STRING literal');
        push(m![2]);
        break;
      }
      case 0x42: // BINBYTES
        push(new Uint8Array(bytes(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        push(new Uint8Array(bytes(u8())));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        push(new Uint8Array(bytes(u64())));
        break;
      case 0x29: // EMPTY_TUPLE
        push(tuple([]));
        break;
      case 0x85: // TUPLE1
        push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        push(tuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        push(tuple([pop(), b, c]));
        break;
      }
      case 0x74: // TUPLE
        push(tuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET (as a list; state dicts never need set semantics)
        push([]);
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x91: // FROZENSET
        push(tuple(popMark()));
        break;
      case 0x70: // PUT
        memo.set(Number(textInt(line())), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const k = op === 0x67 ? Number(textInt(line())) : op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`memo key ${k} is not defined`);
        push(memo.get(k));
        break;
      }
      case 0x63: {
        // GLOBAL module\nname\n
        const module = line();
        push(resolve(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(resolve(module as string, name as string));
        break;
      }
      case 0x69: {
        // INST module\nname\n: class call with the marked args
        const module = line();
        const cls = resolve(module, line());
        push(cls.call(popMark()));
        break;
      }
      case 0x6f: {
        // OBJ: first marked item is the class
        const items = popMark();
        push(callable(items[0]).call(items.slice(1)));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const f = callable(pop());
        if (!isTuple(args)) fail(`REDUCE arguments for ${f.qualname} are not a tuple`);
        push(f.call([...(args as unknown[])]));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const f = callable(pop());
        if (!isTuple(args)) fail('NEWOBJ arguments are not a tuple');
        push(f.call([...(args as unknown[])]));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX: keyword arguments are not needed by any allowed global
        const kwargs = pop();
        const args = pop();
        const f = callable(pop());
        if (!(kwargs instanceof PyDict) || kwargs.map.size) fail(`NEWOBJ_EX with keyword arguments for ${f.qualname}`);
        push(f.call([...(args as unknown[])]));
        break;
      }
      case 0x62: {
        // BUILD: for dicts, a state dict sets attributes (OrderedDict._metadata in state dicts)
        const state = pop();
        const obj = top();
        const dictState = isTuple(state) ? state[0] : state;
        if (obj instanceof PyDict && dictState instanceof PyDict) {
          for (const [k, v] of dictState.map) if (typeof k === 'string') obj.attrs[k] = v;
        } else if (typeof obj === 'object' && obj !== null && typeof (obj as { setState?: unknown }).setState === 'function') {
          (obj as { setState(s: unknown): void }).setState(state);
        } else if (dictState !== null && !(dictState instanceof PyDict && dictState.map.size === 0)) {
          fail('BUILD on an object that takes no state');
        }
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail('persistent ids are not allowed here');
        push(opts.persistentLoad!(pid));
        break;
      }
      case 0x50: {
        // PERSID (text id)
        const pid = line();
        if (!opts.persistentLoad) fail('persistent ids are not allowed here');
        push(opts.persistentLoad!(pid));
        break;
      }
      case 0x82:
      case 0x83:
      case 0x84:
        fail('extension-registry opcodes (EXT1/2/4) are not allowed');
        break;
      case 0x97:
      case 0x98:
        fail('out-of-band buffers are not supported');
        break;
      default:
        fail(`unknown or unsupported opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

/** A protocol-2 pickle emitter: just the opcodes a torch state dict needs. */
export class PickleBuilder {
  private chunks: Buffer[] = [];
  private memoNext = 0;
  private readonly memoOf = new Map<string, number>();

  constructor() {
    this.raw(0x80, 2);
  }

  raw(...b: number[]): this {
    this.chunks.push(Buffer.from(b));
    return this;
  }

  /** GLOBAL, memoized: the first use writes it and BINPUTs, later ones BINGET. */
  global(module: string, name: string): this {
    return this.memoized(`g:${module}.${name}`, () => this.chunks.push(Buffer.from(`c${module}\n${name}\n`, 'latin1')));
  }

  /** A string, memoized when `memo` is set (torch memoizes every object; we only need repeats). */
  str(s: string, memo = false): this {
    const put = () => {
      const b = Buffer.from(s, 'utf8');
      const h = Buffer.alloc(5);
      h[0] = 0x58; // BINUNICODE
      h.writeUInt32LE(b.length, 1);
      this.chunks.push(h, b);
    };
    if (memo) return this.memoized(`s:${s}`, put);
    put();
    return this;
  }

  int(v: number | bigint): this {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new Error(`pickle: ${v} is not an integer`);
    const n = BigInt(v);
    if (n >= 0n && n < 256n) return this.raw(0x4b, Number(n));
    if (n >= 0n && n < 65536n) return this.raw(0x4d, Number(n) & 0xff, Number(n) >> 8);
    if (n >= -(2n ** 31n) && n < 2n ** 31n) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a;
      b.writeInt32LE(Number(n), 1);
      this.chunks.push(b);
      return this;
    }
    // LONG1: minimal little-endian two's complement
    const out: number[] = [];
    let x = n;
    for (;;) {
      out.push(Number(x & 0xffn));
      x >>= 8n;
      if ((x === 0n && !(out[out.length - 1]! & 0x80)) || (x === -1n && out[out.length - 1]! & 0x80)) break;
    }
    return this.raw(0x8a, out.length, ...out);
  }

  /** A tuple of ints (shape/stride), using the short TUPLEn opcodes like CPython. */
  intTuple(vals: readonly number[]): this {
    if (vals.length === 0) return this.raw(0x29);
    if (vals.length > 3) this.raw(0x28);
    for (const v of vals) this.int(v);
    return this.raw(vals.length === 1 ? 0x85 : vals.length === 2 ? 0x86 : vals.length === 3 ? 0x87 : 0x74);
  }

  private memoized(key: string, write: () => void): this {
    const idx = this.memoOf.get(key);
    if (idx !== undefined) {
      if (idx < 256) return this.raw(0x68, idx);
      const b = Buffer.alloc(5);
      b[0] = 0x6a;
      b.writeUInt32LE(idx, 1);
      this.chunks.push(b);
      return this;
    }
    write();
    const i = this.memoNext++;
    this.memoOf.set(key, i);
    if (i < 256) return this.raw(0x71, i);
    const b = Buffer.alloc(5);
    b[0] = 0x72;
    b.writeUInt32LE(i, 1);
    this.chunks.push(b);
    return this;
  }

  finish(): Buffer {
    this.raw(0x2e);
    return Buffer.concat(this.chunks);
  }
}

export const OP = {
  MARK: 0x28,
  EMPTY_TUPLE: 0x29,
  TUPLE: 0x74,
  REDUCE: 0x52,
  BINPERSID: 0x51,
  SETITEMS: 0x75,
  NEWFALSE: 0x89,
  NEWTRUE: 0x88,
} as const;

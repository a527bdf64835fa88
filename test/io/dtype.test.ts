import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, f32ToF16Bits, toFloat32, dtypeFromSafetensors, dtypeFromTorchStorage, fromFloat32, saveDtypeFromTorchName, torchDtypeName } from '../../src/io/dtype.js';

test('f16 -> f32 known values', () => {
  const bits = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555]);
  const f = f16ToF32(bits);
  assert.deepEqual([...f.slice(0, 5)], [1, -2, 65504, 2 ** -24, 2 ** -14]);
  assert.ok(Object.is(f[5], -0));
  assert.equal(f[6], Infinity);
  assert.equal(f[7], -Infinity);
  assert.ok(Number.isNaN(f[8]!));
  assert.equal(f[9], Math.fround(0.333251953125));
});

test('every finite f16 survives f16 -> f32 -> f16', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = f32ToF16(f16ToF32(all));
  for (let i = 0; i < 65536; i++) {
    if ((i & 0x7c00) === 0x7c00 && i & 0x3ff) continue; // NaN payloads
    assert.equal(back[i], i, `pattern 0x${i.toString(16)}`);
  }
});

test('f32 -> f16 rounds to nearest even and overflows to infinity', () => {
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00); // tie -> even
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie -> even (up)
  assert.equal(f32ToF16Bits(65520), 0x7c00);
  assert.equal(f32ToF16Bits(2 ** -25), 0x0000); // tie at half the smallest subnormal -> 0
  assert.equal(f32ToF16Bits(1.5 * 2 ** -25), 0x0001);
});

test('bf16 conversions', () => {
  const x = new Float32Array([1, -2.5, 3.140625, 1e30, -0]);
  assert.deepEqual([...bf16ToF32(f32ToBf16(x))], [1, -2.5, 3.140625, bf16ToF32(f32ToBf16(new Float32Array([1e30])))[0], -0]);
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: rounds to even (1)
  assert.equal(f32ToBf16(new Float32Array([1 + 2 ** -8]))[0], 0x3f80);
  assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(new Float32Array([NaN])))[0]!));
});

test('toFloat32 from integer dtypes and dtype name tables', () => {
  assert.deepEqual([...toFloat32({ dtype: 'i64', shape: [2], data: new BigInt64Array([3n, -4n]) })], [3, -4]);
  assert.deepEqual([...toFloat32({ dtype: 'i8', shape: [2], data: new Int8Array([-1, 5]) })], [-1, 5]);
  assert.equal(dtypeFromSafetensors('BF16'), 'bf16');
  assert.equal(dtypeFromSafetensors('F8_E4M3'), undefined);
  assert.equal(dtypeFromTorchStorage('HalfStorage'), 'f16');
  assert.equal(dtypeFromTorchStorage('CharStorage'), 'i8');
  assert.equal(dtypeFromTorchStorage('UInt16Storage'), undefined);
});

test('fromFloat32 writes f32/f16/bf16 and counts finite values that became inf; torch dtype names', () => {
  const x = new Float32Array([1.5, -2, 65504, 65520, Infinity, 3.4e38]);
  assert.equal(fromFloat32('f32', x).data, x);
  const h = fromFloat32('f16', x);
  assert.deepEqual([...h.data], [...f32ToF16(x)]);
  assert.equal(h.overflow, 2, '65520 and 3.4e38 round to inf; inf itself is not counted');
  const b = fromFloat32('bf16', x);
  assert.deepEqual([...b.data], [...f32ToBf16(x)]);
  assert.equal(b.overflow, 1, '3.4e38 rounds past the largest bf16');
  assert.deepEqual(['float32', 'torch.float16', 'half', 'bfloat16', 'float64', 'auto'].map(saveDtypeFromTorchName), ['f32', 'f16', 'f16', 'bf16', undefined, undefined]);
  assert.deepEqual((['f32', 'f16', 'bf16'] as const).map(torchDtypeName), ['float32', 'float16', 'bfloat16']);
});

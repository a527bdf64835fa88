import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unpickle, PyDict, PickleBuilder, type PyCallable } from '../../src/io/pickle.js';
import { UnsafePickleError } from '../../src/io/io_errors.js';
import { FileFormatError } from '../../src/errors.js';
import { throwsFormat } from './_util.js';

// pickle.dumps(obj, protocol=p) from CPython 3.11 for
// {'a': [1, 2.5, None, True, False, 'xé', b'y', (1,2,3), (), (4,), 2**70, -5, 300, 70000, -2**40, 'long'*70]}
const LONG = 'long'.repeat(70);
const L70 = Buffer.from(LONG).toString('hex');
const VECTORS: Record<number, string> = {
  0: `286470300a56610a70310a286c70320a49310a6146322e350a614e614930310a614930300a615678e90a70330a61635f636f646563730a656e636f64650a70340a2856790a70350a566c6174696e310a70360a7470370a5270380a612849310a49320a49330a7470390a612874612849340a747031300a614c313138303539313632303731373431313330333432344c0a61492d350a61493330300a614937303030300a614c2d313039393531313632373737364c0a6156${L70}0a7031310a61732e`,
  1: `7d710058010000006171015d7102284b014740040000000000004e4930310a4930300a580300000078c3a97103635f636f646563730a656e636f64650a710428580100000079710558060000006c6174696e317106747107527108284b014b024b0374710929284b0474710a4c313138303539313632303731373431313330333432344c0a4afbffffff4d2c014a701101004c2d313039393531313632373737364c0a5818010000${L70}710b65732e`,
  2: `80027d710058010000006171015d7102284b014740040000000000004e8889580300000078c3a97103635f636f646563730a656e636f64650a7104580100000079710558060000006c6174696e3171068671075271084b014b024b03877109294b0485710a8a090000000000000000404afbffffff4d2c014a701101008a060000000000ff5818010000${L70}710b65732e`,
  3: `80037d710058010000006171015d7102284b014740040000000000004e8889580300000078c3a9710343017971044b014b024b03877105294b048571068a090000000000000000404afbffffff4d2c014a701101008a060000000000ff5818010000${L70}710765732e`,
  4: `8004956f010000000000007d948c0161945d94284b014740040000000000004e88898c0378c3a994430179944b014b024b038794294b0485948a090000000000000000404afbffffff4d2c014a701101008a060000000000ff5818010000${L70}9465732e`,
  5: `8005956f010000000000007d948c0161945d94284b014740040000000000004e88898c0378c3a994430179944b014b024b038794294b0485948a090000000000000000404afbffffff4d2c014a701101008a060000000000ff5818010000${L70}9465732e`,
};

// Protocols < 3 spell bytes as _codecs.encode(str, 'latin1'); allowed here only for this test.
const codecs: PyCallable = { qualname: '_codecs.encode', call: ([s]) => Uint8Array.from(String(s), (c) => c.charCodeAt(0)) };
const findGlobal = (m: string, n: string) => (m === '_codecs' && n === 'encode' ? codecs : undefined);

for (const [proto, hex] of Object.entries(VECTORS)) {
  test(`unpickles CPython protocol ${proto}`, () => {
    const v = unpickle(Buffer.from(hex, 'hex'), { file: 'vec.pkl', findGlobal });
    assert.ok(v instanceof PyDict);
    const a = v.map.get('a') as unknown[];
    assert.deepEqual(a.slice(0, 6), [1, 2.5, null, true, false, 'xé']);
    assert.deepEqual([...(a[6] as Uint8Array)], [0x79]);
    assert.deepEqual(a.slice(7, 10), [[1, 2, 3], [], [4]]);
    assert.ok(Object.isFrozen(a[7]), 'tuples are frozen arrays');
    assert.deepEqual(a.slice(10), [2n ** 70n, -5, 300, 70000, -(2 ** 40), LONG]);
  });
}

test('forbidden globals are refused by name and nothing runs', () => {
  const cases: [string, Buffer, string][] = [
    ['GLOBAL os.system', Buffer.from('\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.', 'latin1'), 'os.system'],
    ['STACK_GLOBAL builtins.eval', Buffer.from('\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x031+1\x85R.', 'latin1'), 'builtins.eval'],
    ['INST posix.system', Buffer.from('(X\x02\x00\x00\x00lsiposix\nsystem\n.', 'latin1'), 'posix.system'],
    ['GLOBAL torch.load', Buffer.from('\x80\x02ctorch\nload\n.', 'latin1'), 'torch.load'],
  ];
  for (const [what, bytes, global] of cases) {
    const err = throwsFormat(() => unpickle(bytes, { file: 'evil.pkl', findGlobal: () => undefined }), new RegExp(`forbidden global '${global.replace('.', '\\.')}'`), 'evil.pkl', UnsafePickleError);
    assert.equal((err as UnsafePickleError).global, global, what);
  }
});

test('malformed pickles are reported with the byte position', () => {
  const run = (s: string, extra: Partial<Parameters<typeof unpickle>[1]> = {}) => () => unpickle(Buffer.from(s, 'latin1'), { file: 'bad.pkl', findGlobal, ...extra });
  throwsFormat(run('\x80\x02X\x10\x00\x00\x00abc'), /truncated data/, 'bad.pkl');
  throwsFormat(run('\x80\x02K\x01'), /truncated data/, 'bad.pkl');
  throwsFormat(run('\x80\x02\xff.'), /unknown or unsupported opcode 0xff \(at byte 3\)/, 'bad.pkl');
  throwsFormat(run('\x80\x02t.'), /MARK expected/);
  throwsFormat(run('\x80\x020.'), /stack underflow/);
  throwsFormat(run('\x80\x02K\x01K\x02.'), /unbalanced stack/);
  throwsFormat(run('\x80\x02h\x05.'), /memo key 5 is not defined/);
  throwsFormat(run('\x80\x02\x82\x01.'), /extension-registry opcodes/);
  throwsFormat(run('\x80\x02K\x01Q.'), /persistent ids are not allowed/);
  throwsFormat(run('\x80\x06.'), /protocol above 5/);
  throwsFormat(run('\x80\x02K\x01)R.'), /call target is not an allowed global/);
  assert.ok(run('\x80\x02}q\x00.')() instanceof PyDict);
  assert.throws(run('\x80\x02K\x01)R.'), FileFormatError);
});

test('PickleBuilder emits ints of every width and memoized globals', () => {
  const b = new PickleBuilder();
  b.raw(0x28);
  for (const v of [0, 255, 256, 65535, 65536, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 40, -(2 ** 40), 2 ** 53 - 1]) b.int(v);
  b.int(2n ** 64n);
  b.raw(0x74);
  const v = unpickle(b.finish(), { file: 'x', findGlobal });
  assert.deepEqual(v, [0, 255, 256, 65535, 65536, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 40, -(2 ** 40), 2 ** 53 - 1, 2n ** 64n]);
  const g = new PickleBuilder();
  g.raw(0x28).global('_codecs', 'encode').global('_codecs', 'encode').raw(0x74);
  const got = unpickle(g.finish(), { file: 'x', findGlobal }) as unknown[];
  assert.equal(got[0], codecs);
  assert.equal(got[1], codecs);
});

// `radgrad tokenize`: JSON lines out for stdin lines, JSONL records and --decode; errors with hints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { Command } from 'commander';
import { RadgradError } from '../../src/errors.js';
import { sharedPath } from '../../src/util/paths.js';
import { register, runTokenize } from '../../cli/commands/tokenize.js';

const vocabDir = sharedPath('data', 'biogpt-vocab');

async function run(opts: Parameters<typeof runTokenize>[0], stdin = ''): Promise<Record<string, unknown>[]> {
  let out = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  await runTokenize(opts, Readable.from([stdin]), sink);
  return out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('cli: stdin lines, JSONL field and --decode', async (t) => {
  if (!vocabDir) return t.skip('shared/data/biogpt-vocab is absent');
  const lines = await run({ model: vocabDir }, 'No acute disease.\n\nHeart normal.\n');
  assert.equal(lines.length, 3, 'one output per input line, empty lines included');
  assert.deepEqual(lines[0], { ids: [2, 668, 293, 76, 4], tokens: ['No</w>', 'acute</w>', 'disease</w>', '.</w>'] });
  assert.deepEqual(lines[1], { ids: [2], tokens: [] });
  // Plain-text stdin: a leading UTF-8 BOM is dropped, not tokenized (it would be <unk> = 3).
  assert.deepEqual(await run({ model: vocabDir }, '\uFEFFNo acute disease.\n'), [lines[0]]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'radgrad-cli-'));
  try {
    const file = path.join(dir, 'in.jsonl');
    writeFileSync(file, JSON.stringify({ findings: 'Lungs clear.' }) + '\n' + JSON.stringify({ findings: 'TB' }) + '\n');
    const recs = await run({ model: vocabDir, jsonl: file, field: 'findings' });
    assert.deepEqual(recs.map((r) => r.tokens), [['L', 'un', 'gs</w>', 'clear</w>', '.</w>'], ['TB</w>']]);
    // A UTF-8 BOM and CRLF line ends (Windows editors, PowerShell) are read as train/eval read them.
    const bom = path.join(dir, 'bom.jsonl');
    writeFileSync(bom, '\uFEFF' + JSON.stringify({ findings: 'Lungs clear.' }) + '\r\n' + JSON.stringify({ findings: 'TB' }) + '\r\n');
    assert.deepEqual(await run({ model: vocabDir, jsonl: bom, field: 'findings' }), recs);
    const dec = await run({ model: vocabDir, decode: true }, '[2, 668, 293, 76, 4]\n');
    assert.deepEqual(dec[0], { ids: [2, 668, 293, 76, 4], tokens: ['</s>', 'No</w>', 'acute</w>', 'disease</w>', '.</w>'], text: 'No acute disease.' });
    await assert.rejects(run({ model: vocabDir, jsonl: file, field: 'text' }), (e: unknown) => e instanceof RadgradError && !!e.hint && /no field "text"/.test(e.message));
    await assert.rejects(run({ model: vocabDir, decode: true }, '["x"]\n'), (e: unknown) => e instanceof RadgradError && !!e.hint);
    await assert.rejects(run({}, 'x\n'), (e: unknown) => e instanceof RadgradError && /--model/.test(e.message) && !!e.hint);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cli: register adds `tokenize` with an example in --help', () => {
  const program = new Command().name('radgrad');
  register(program);
  const cmd = program.commands.find((c) => c.name() === 'tokenize');
  assert.ok(cmd, 'tokenize command registered');
  let help = '';
  cmd.configureOutput({ writeOut: (s) => (help += s) });
  cmd.outputHelp();
  assert.match(help, /Examples?:/);
  assert.match(help, /--jsonl <file>/);
  assert.match(help, /--decode/);
});

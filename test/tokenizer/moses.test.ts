// Rule-level checks of the Moses port: sacremoses' documented behaviours, its character classes
// (which are NOT JavaScript's \p{...}), and the closed-form multidot rewrite against the original loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  mosesTokenize,
  replaceMultidots,
  replaceMultidotsLiteral,
  restoreMultidots,
  restoreMultidotsLiteral,
} from '../../src/tokenizer/moses.js';
import { mosesDetokenize } from '../../src/tokenizer/detokenize.js';
import { CodePointSet, IS_N, TOK_ALNUM, isCjk, pySplit, pyStrip } from '../../src/tokenizer/char_classes.js';
import { IS_ALPHA, IS_LOWER } from '../../src/tokenizer/unicode_classes.js';

const tok = (s: string) => mosesTokenize(s).join(' ');

test('moses: punctuation, escaping and contractions', () => {
  assert.equal(
    tok("This ain't funny. It's actually hillarious, yet double Ls. | [] < > [ ] & You're gonna shake it off? Don't?"),
    'This ain &apos;t funny . It &apos;s actually hillarious , yet double Ls . &#124; &#91; &#93; &lt; &gt; &#91; &#93; ' +
      '&amp; You &apos;re gonna shake it off ? Don &apos;t ?',
  );
  assert.equal(tok('This, is a sentence with weird\xbb symbols\u2026 appearing everywhere\xbf'),
    'This , is a sentence with weird \xbb symbols \u2026 appearing everywhere \xbf');
  assert.equal(tok("this 'is' the thing"), 'this &apos; is &apos; the thing');
  assert.equal(tok("'Hello.'"), '&apos;Hello . &apos;');
  assert.equal(tok('He said "no."'), 'He said &quot; no . &quot;');
});

test('moses: aggressive dash splits, commas inside numbers, final period', () => {
  assert.equal(tok('foo-bar-baz'), 'foo @-@ bar @-@ baz');
  assert.equal(tok('a -b c- --d'), 'a -b c- --d');
  assert.equal(tok('2,000-fold 5,3 a,b 7,'), '2,000 @-@ fold 5,3 a , b 7 ,');
  assert.equal(tok('abc def.'), 'abc def .');
  assert.equal(tok('The meeting will take place at 11:00 a.m. Tuesday.'),
    'The meeting will take place at 11 : 00 a.m. Tuesday .');
});

test('moses: English non-breaking prefixes including the numeric-only ones', () => {
  assert.equal(tok('Dr. Smith saw Mr. Jones.'), 'Dr. Smith saw Mr. Jones .');
  assert.equal(tok('see Fig. 2 and e.g. this'), 'see Fig . 2 and e.g. this');
  // "No" / "Art" / "pp" keep the period only before a digit (or a lowercase word).
  assert.equal(tok('No. 5 and No. Five'), 'No. 5 and No . Five');
  assert.equal(tok('2016, pp.'), '2016 , pp .');
  assert.equal(tok('Art. 3'), 'Art. 3');
  assert.equal(tok('Jan. Feb. May.'), 'Jan. Feb. May .');
  assert.equal(tok('end. next'), 'end. next');
});

test('moses: multidots stay together and whitespace/control characters are cleaned', () => {
  assert.equal(tok('wait... what.. ok'), 'wait ... what .. ok');
  assert.equal(tok('a\u0000b\u0007c\td\u001ce\u0085f\u00a0g\ufeffh'), 'abc d e f g \ufeff h');
  assert.equal(tok('  \n\t '), '');
});

test('moses: character classes follow sacremoses data, not JavaScript \\p{...}', () => {
  const alnum = new CodePointSet(TOK_ALNUM);
  const lower = new CodePointSet(IS_LOWER);
  const num = new CodePointSet(IS_N);
  const alpha = new CodePointSet(IS_ALPHA);
  assert.ok(alnum.has(0x25cc), 'U+25CC is in the dumped IsAlnum (printed before every mark)');
  assert.ok(!/\p{Alphabetic}/u.test('\u25cc'));
  assert.ok(!alpha.has(0x4e2d) && /\p{Alphabetic}/u.test('\u4e2d'), 'Han characters are not in IsAlpha');
  assert.ok(!alpha.has(0xac00), 'Hangul syllables are not in IsAlpha');
  assert.ok(!lower.has(0x10d0) && /\p{Lowercase}/u.test('\u10d0'), 'Georgian Mkhedruli was not lowercase in Unicode 7');
  assert.ok(!alnum.has(0x1d400), 'astral letters are not listed');
  assert.ok(alnum.has(0x11046), 'Brahmi virama is added to the tokenizer IsAlnum');
  assert.ok(num.has(0xbd) && !num.has(0x3007), 'IsN has fractions but no Han numerals');
  assert.equal(tok('x\u25ccy \u4e2d\u6587 \u{1d400}b'), 'x\u25ccy \u4e2d \u6587 \u{1d400} b');
});

test('moses: Python whitespace semantics for split/strip', () => {
  assert.deepEqual(pySplit('a\u001fb\u0085c\ufeffd\u200be'), ['a', 'b', 'c\ufeffd\u200be']);
  assert.equal(pyStrip('\u3000 x \u2028'), 'x');
  assert.ok(isCjk(0xac00) && isCjk(0x1100) && !isCjk(0x10ff));
});

test('moses: closed-form multidot rewrite equals sacremoses\' loop', () => {
  const alphabet = fc.constantFrom('.', '.', '.', 'D', 'O', 'T', 'M', 'U', 'L', 'I', 'x', ' ', 'DOT', 'MULTI', 'DOTMULTI');
  const text = fc.array(alphabet, { maxLength: 30 }).map((a) => a.join(''));
  fc.assert(
    fc.property(text, (s) => {
      assert.equal(replaceMultidots(s), replaceMultidotsLiteral(s));
      assert.equal(restoreMultidots(s), restoreMultidotsLiteral(s));
    }),
    { numRuns: 3000 },
  );
  assert.equal(replaceMultidots('a...b..'), 'a DOTDOTDOTMULTI b DOTDOTMULTI');
});

test('detokenize: attachment rules', () => {
  const detok = (s: string) => mosesDetokenize(s.split(' '));
  assert.equal(detok('( a , b ) $ 5 % .'), '(a, b) $5%.');
  assert.equal(detok('&quot; hi &quot; it &apos;s the Jones &apos; house'), '"hi" it\'s the Jones\' house');
  assert.equal(detok('Japan is 日 本 in Japanese .'), 'Japan is 日本 in Japanese.');
  assert.equal(detok('T @-@ cells &amp;lt;'), 'T-cells &lt;');
});

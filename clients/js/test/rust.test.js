// The Rust-written parts of the server's answers, as the runtime reproduces them.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { compilePattern } from '../src/pattern.js';
import { charCount, compareCodePoints, parseUuid, rustDebugString, rustFloat, rustTrim } from '../src/rust.js';

test('text is trimmed as Rust trims: U+0085 goes, U+FEFF stays (the reverse of String.prototype.trim)', () => {
  assert.equal(rustTrim('\u0085 a \u3000'), 'a');
  assert.equal(rustTrim('\ufeffa'), '\ufeffa');
  assert.notEqual(rustTrim('\ufeffa'), '\ufeffa'.trim());
});

test('numbers in messages are written as Rust writes an f64: no exponent, -0 kept', () => {
  assert.equal(rustFloat(1e21), '1000000000000000000000');
  assert.equal(rustFloat(1e-7), '0.0000001');
  assert.equal(rustFloat(0.5), '0.5');
  assert.equal(rustFloat(1900), '1900');
  assert.equal(rustFloat(-0), '-0');
  assert.equal(rustFloat(1.5e300).length, 301);
});

test('option values in messages are quoted as Rust Debug-formats a string', () => {
  assert.equal(rustDebugString('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(rustDebugString('x\ny\t\u0085'), '"x\\ny\\t\\u{85}"');
  assert.equal(rustDebugString('Zürich 😀'), '"Zürich 😀"');
});

test('unknown keys are ordered by code point (a BTreeMap), not by UTF-16 unit', () => {
  const keys = ['😀', '\uff5e', 'a', 'Z'];
  assert.deepEqual([...keys].sort(compareCodePoints), ['Z', 'a', '\uff5e', '😀']);
  assert.deepEqual([...keys].sort(), ['Z', 'a', '😀', '\uff5e']);
  assert.equal(charCount('a😀'), 2);
});

test('ids parse as Uuid::parse_str parses them, in every spelling it accepts', () => {
  const id = '0193a8b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b';
  for (const spelling of [id, id.toUpperCase(), `{${id}}`, id.replaceAll('-', ''), `urn:uuid:${id}`]) {
    assert.equal(parseUuid(spelling), id, spelling);
  }
  for (const bad of ['', 'not-a-uuid', `${id} `, id.slice(1), 12, null]) assert.equal(parseUuid(bad), null, String(bad));
});

test('patterns keep their Rust meaning: \\d and \\w are Unicode, . is everything but a line feed', () => {
  assert.ok(compilePattern('\\d{2}').test('١٢'), 'Arabic-Indic digits are \\d in Rust');
  assert.ok(compilePattern('\\w+').test('Zürich'));
  assert.ok(compilePattern('.').test('\r'));
  assert.ok(!compilePattern('.').test('\n'));
  assert.ok(compilePattern('[A-HJ-NPR-Z0-9]{17}').test('WVWZZZ1JZXW000001'));
  assert.ok(!compilePattern('[A-HJ-NPR-Z0-9]{17}').test('WVWZZZ1JZXW00000I'));
  assert.ok(compilePattern('(?i)ab.*').test('ABc'));
  assert.equal(compilePattern('\\bword\\b'), null, 'a Unicode word boundary has no faithful translation: the server checks it');
});

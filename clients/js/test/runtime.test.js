// The cascade runtime without I/O: hidden means absent, resets, messages, carry-over.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import jsonLogic from 'json-logic-js';

import { carryOver, checkValues, compileForm, settle, unreadable } from '../src/runtime.js';

const form = (fields) => compileForm({ category_id: 'c', template: 'T', version: 1, blocks: [{ name: 'b', fields }] }, { jsonLogic });

test('hidden means absent, to a fixpoint: a hidden field\'s leftover value shows nothing (the issue\'s h1/h2 case)', () => {
  const f = form([
    { name: 'h1', type: 'boolean', label: 'H1' },
    { name: 'h2', type: 'text', label: 'H2', visibleIf: { var: 'h1' } },
    { name: 'h3', type: 'text', label: 'H3', visibleIf: { var: 'h2' }, required: true },
  ]);
  const { evaluation } = checkValues(f, { h1: false, h2: 'x' });
  assert.deepEqual(evaluation.visible, ['h1'], 'per-condition json-logic-js would show h3');
  assert.deepEqual(jsonLogic.truthy(jsonLogic.apply({ var: 'h2' }, { h1: false, h2: 'x' })), true);
  assert.deepEqual(evaluation.errors, []);
});

test('resets cascade through dependsOn and parentField; resetOnChange: false stops one; the changed field keeps its value', () => {
  const f = form([
    { name: 'brand', type: 'select', label: 'Brand', dataSource: { kind: 'brand' } },
    { name: 'model', type: 'select', label: 'Model', required: true, dataSource: { kind: 'model', parentField: 'brand' } },
    { name: 'variant', type: 'text', label: 'Variant', dependsOn: ['model'] },
    { name: 'colour', type: 'text', label: 'Colour', dependsOn: ['brand'], resetOnChange: false },
  ]);
  const brand = '0193a8b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b';
  const { evaluation } = checkValues(f, { brand, model: 'x', variant: 'v', colour: 'red' }, ['brand']);
  assert.deepEqual(evaluation.reset, ['model', 'variant']);
  assert.deepEqual(evaluation.errors, [{ field: 'model', code: 'required', message: 'Model is required' }]);
  assert.deepEqual(evaluation.options, { model: { kind: 'model', parent_id: brand } });
});

test('every code with the server\'s message, unknown keys first in code-point order, at most five listed', () => {
  const f = form([
    { name: 'n', type: 'integer', label: 'N', validation: { min: 0.5, max: 1e21 } },
    { name: 'y', type: 'year', label: 'Y' },
    { name: 't', type: 'text', label: 'T', validation: { maxLength: 2, pattern: '\\d+' } },
    { name: 's', type: 'select', label: 'S', options: [{ value: 'a', label: 'A' }] },
    { name: 'm', type: 'select', label: 'M', dataSource: { kind: 'model', parentField: 'b' } },
    { name: 'b', type: 'select', label: 'Brand', dataSource: { kind: 'brand' } },
  ]);
  const values = { n: 0, y: 1899, t: ' 1x ', s: 'a\n', m: '0193a8b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b', '😀': 1, '\uff5e': 1, u1: 1, u2: 1, u3: 1, u4: 1 };
  const { evaluation } = checkValues(f, values, [], 2026);
  assert.deepEqual(evaluation.errors, [
    { field: 'u1', code: 'unknown_field', message: 'this form has no such field' },
    { field: 'u2', code: 'unknown_field', message: 'this form has no such field' },
    { field: 'u3', code: 'unknown_field', message: 'this form has no such field' },
    { field: 'u4', code: 'unknown_field', message: 'this form has no such field' },
    { field: '\uff5e', code: 'unknown_field', message: 'this form has no such field' },
    { field: 'values', code: 'unknown_field', message: '1 more values name no field of this form' },
    { field: 'n', code: 'below_min', message: 'N must be at least 0.5' },
    { field: 'y', code: 'below_min', message: 'Y must be at least 1900' },
    { field: 't', code: 'pattern_mismatch', message: 'T is not in the expected format' },
    { field: 's', code: 'unknown_option', message: 'S: "a\\n" is not an option of S'.replace('S: ', '') },
    { field: 'm', code: 'parent_missing', message: 'choose Brand first' },
  ]);
});

test('the catalog look-ups: a missing id is unknown_option, and its dependent list is not named', () => {
  const f = form([
    { name: 'brand', type: 'select', label: 'Brand', dataSource: { kind: 'brand' } },
    { name: 'model', type: 'select', label: 'Model', dataSource: { kind: 'model', parentField: 'brand' } },
  ]);
  const brand = '0193a8b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b';
  const checked = checkValues(f, { brand });
  assert.deepEqual(checked.checks, [{ field: 'brand', list: { kind: 'brand', parent_id: null }, id: brand }]);
  settle(f, checked.evaluation, checked.checks, [null]);
  assert.deepEqual(checked.evaluation.errors, [{ field: 'brand', code: 'unknown_option', message: 'Brand: no such option' }]);
  assert.deepEqual(Object.keys(checked.evaluation.options), ['brand']);
});

test('carry-over keeps compatible values and names the reason for each dropped one', () => {
  const before = form([
    { name: 'year', type: 'year', label: 'Y' },
    { name: 'kg', type: 'number', label: 'Kg' },
    { name: 'fuel', type: 'select', label: 'F', options: [{ value: 'diesel', label: 'D' }, { value: 'lpg', label: 'L' }] },
    { name: 'gone', type: 'text', label: 'G' },
  ]);
  const after = form([
    { name: 'year', type: 'integer', label: 'Y' },
    { name: 'kg', type: 'integer', label: 'Kg' },
    { name: 'fuel', type: 'select', label: 'F', options: [{ value: 'diesel', label: 'D' }] },
    { name: 'new', type: 'text', label: 'N' },
  ]);
  const carried = carryOver(after, before, { year: 2019, kg: 12.5, fuel: 'lpg', gone: 'x', new: 'n' });
  assert.deepEqual(carried, {
    values: { year: 2019 },
    dropped: [
      { field: 'fuel', reason: 'not_an_option' },
      { field: 'gone', reason: 'not_in_new_form' },
      { field: 'kg', reason: 'incompatible_type' },
      { field: 'new', reason: 'not_in_previous_form' },
    ],
  });
});

test('a condition past the server\'s step budget does not hold, where plain json-logic-js would say true', () => {
  const f = form([
    { name: 'tags', type: 'multiselect', label: 'Tags', options: [{ value: 'a', label: 'A' }] },
    { name: 'x', type: 'text', label: 'X', visibleIf: { some: [{ var: 'tags' }, { '==': [{ var: '' }, 'b'] }] } },
  ]);
  const few = Array.from({ length: 10 }, () => 'a').concat('b');
  const many = Array.from({ length: 30_000 }, () => 'a').concat('b');
  assert.ok(checkValues(f, { tags: few }).evaluation.visible.includes('x'));
  assert.ok(!checkValues(f, { tags: many }).evaluation.visible.includes('x'));
  assert.ok(jsonLogic.truthy(jsonLogic.apply(f.fields[1].field.visibleIf, { tags: many })));
});

test('values the server cannot read (half a surrogate pair, in a value or a key) are recognised; whole pairs are fine', () => {
  assert.ok(unreadable({ a: ['x', 'half \ud83d'] }));
  assert.ok(unreadable({ ['\udc00']: 1 }));
  assert.ok(!unreadable({ a: 'whole 😀', b: [1, null, { c: 'ü' }] }));
});

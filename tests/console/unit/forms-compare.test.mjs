// The Forms page's comparison of the browser's evaluation with the server's (console/forms-compare.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { differences, describe, parseInput, same } from '../../../console/forms-compare.js';

const evaluation = () => ({
  visible: ['brand', 'model'],
  required: ['brand'],
  reset: [],
  errors: [{ field: 'brand', code: 'required', message: 'Brand is required' }],
  options: { brand: { kind: 'brand', parent_id: null } },
});

test('the same answer in another key order is no difference; each differing part is named', () => {
  const server = evaluation();
  const browser = { options: server.options, errors: server.errors, reset: [], required: ['brand'], visible: ['brand', 'model'] };
  assert.deepEqual(differences(browser, server), []);
  browser.visible = ['model', 'brand'];
  browser.errors = [{ ...server.errors[0], message: 'Brand ist ein Pflichtfeld' }];
  browser.carried_over = { values: {}, dropped: [] };
  assert.deepEqual(differences(browser, server), ['visible', 'errors', 'carried_over']);
  assert.ok(!same([1], { 0: 1 }));
  assert.ok(!same(null, {}));
});

test('each part reads as lines: errors with code and message, lists with their parent, carry-over with reasons', () => {
  assert.deepEqual(describe('errors', evaluation().errors), ['brand: required — Brand is required']);
  assert.deepEqual(describe('options', { model: { kind: 'model', parent_id: 'p' } }), ['model: model under p']);
  assert.deepEqual(describe('carried_over', { values: { year: 2019 }, dropped: [{ field: 'fuel', reason: 'not_in_new_form' }], dropped_unlisted: 2 }),
    ['kept: year', 'dropped fuel: not_in_new_form', 'and 2 more dropped']);
  assert.deepEqual(describe('reset', []), ['none']);
  assert.deepEqual(describe('visible', undefined), ['—']);
});

test('inputs become values: numbers when they read as numbers, otherwise sent as typed; empty is left out', () => {
  assert.equal(parseInput('integer', ' 2019 '), 2019);
  assert.equal(parseInput('number', 'many'), 'many');
  assert.equal(parseInput('year', 'Infinity'), 'Infinity');
  assert.equal(parseInput('boolean', 'true'), true);
  assert.equal(parseInput('text', ''), undefined);
  assert.deepEqual(parseInput('multiselect', ['a']), ['a']);
  assert.equal(parseInput('multiselect', []), undefined);
  assert.equal(parseInput('text', '  x '), '  x ');
});

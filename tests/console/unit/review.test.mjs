// The catalog review queue's logic (console/review.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { creatorText, survivorsFor } from '../../../console/review.js';

const option = (id, name, kind = 'brand') => ({ id, name, kind });

test('a creator reads as email and account age; a deleted account by its id; none for the seed', () => {
  assert.equal(creatorText({ id: 'u1', email: 'alice@example.com', account_age_secs: 3 * 3600 + 300 }), 'alice@example.com, account 3 h 5 min old');
  assert.equal(creatorText({ id: '0190c0de-0000-7000-8000-00000000abcd', email: null, account_age_secs: 40 }), 'deleted account 0000abcd, account 40 s old');
  assert.equal(creatorText({ id: 'u2', email: 'x@example.com', account_age_secs: null }), 'x@example.com, account age unknown');
  assert.equal(creatorText({ id: 'u3', email: 'new@example.com', account_age_secs: 0 }), 'new@example.com, account under 1 s old');
  assert.equal(creatorText(null), 'seed or operator');
});

test('a merge may keep the near duplicates first, then any other option of the kind, by name, each once', () => {
  const all = [option('1', 'Volvo'), option('2', 'Scania'), option('3', 'Alfa'), option('4', 'Truck', 'category'), option('5', 'Volva')];
  const group = [option('1', 'Volvo'), option('5', 'Volva'), option('6', 'VOLVO')];
  const survivors = survivorsFor(all[0], all, group);
  assert.deepEqual(survivors.map((o) => [o.name, o.near]), [['Volva', true], ['VOLVO', true], ['Alfa', false], ['Scania', false]]);
  assert.deepEqual(survivorsFor(all[1], all).map((o) => o.name), ['Alfa', 'Volva', 'Volvo'], 'without a group: the kind by name');
});

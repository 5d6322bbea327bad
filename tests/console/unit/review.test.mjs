// The catalog review queue's grouping (console/review.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nearKey, nearDuplicates, survivorsFor } from '../../../console/review.js';

const option = (id, name, kind = 'brand', parent_id = null) => ({ id, name, kind, parent_id });

test('near keys ignore case, accents, spaces and punctuation', () => {
  assert.equal(nearKey('Mercedes-Benz'), nearKey('mercedes benz'));
  assert.equal(nearKey('Škoda'), nearKey('SKODA'));
  assert.notEqual(nearKey('Volvo'), nearKey('Volva'));
});

test('groups near duplicates per kind and parent, largest first', () => {
  const groups = nearDuplicates([
    option('1', 'Volvo'), option('2', 'VOLVO'), option('3', 'Scania'),
    option('4', 'M.A.N.'), option('5', 'MAN'), option('6', 'man'),
    option('7', 'Volvo', 'model', 'p1'), option('8', 'Volvo', 'model', 'p2'),
  ]);
  assert.deepEqual(groups.map((g) => g.map((o) => o.id)), [['4', '5', '6'], ['1', '2']]);
});

test('a merge may keep any other option of the kind, by name', () => {
  const all = [option('1', 'Volvo'), option('2', 'Scania'), option('3', 'Alfa'), option('4', 'Truck', 'category')];
  assert.deepEqual(survivorsFor(all[0], all).map((o) => o.name), ['Alfa', 'Scania']);
});

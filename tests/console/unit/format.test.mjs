// The console's formatting (console/format.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { age, instant, since, shortId, plural, cell, problemText, countRows, queueDepths } from '../../../console/format.js';

test('ages read as the largest two units', () => {
  assert.equal(age(850), '850 ms');
  assert.equal(age(12_400), '12 s');
  assert.equal(age(185_000), '3 min 5 s');
  assert.equal(age(120_000), '2 min');
  assert.equal(age(2 * 3600_000 + 4 * 60_000), '2 h 4 min');
  assert.equal(age(3 * 86400_000 + 3600_000), '3 d 1 h');
  assert.equal(age(-5), '0 ms', 'a clock a little ahead is not a negative age');
  assert.equal(age(null), '—');
});

test('instants are UTC to the second; garbage is shown as it came', () => {
  assert.equal(instant('2026-12-07T00:07:16.123456Z'), '2026-12-07 00:07:16 UTC');
  assert.equal(instant('2026-12-07T01:07:16+01:00'), '2026-12-07 00:07:16 UTC');
  assert.equal(instant(null), '—');
  assert.equal(instant('not a date'), 'not a date');
  assert.equal(since('2026-12-07T00:00:00Z', Date.parse('2026-12-07T00:01:30Z')), '1 min 30 s ago');
});

test('ids, counts, cells and problems', () => {
  assert.equal(shortId('0193a1b2-c3d4-7000-8000-00000000abcd'), '0000abcd');
  assert.equal(shortId(null), '—');
  assert.equal(plural(1, 'job'), '1 job');
  assert.equal(plural(3, 'job'), '3 jobs');
  assert.equal(plural(2, 'secret version'), '2 secret versions');
  assert.equal(cell(null), '—');
  assert.equal(cell({ a: 1 }), '{"a":1}');
  assert.equal(cell(0), '0');
  assert.equal(problemText({ title: 'Conflict', detail: 'a rotation runs' }), 'Conflict: a rotation runs');
  assert.equal(problemText({ title: 'Not found' }), 'Not found');
});

test('job counts become one row per queue and kind with every state', () => {
  const rows = countRows([
    { queue: 'photos', kind: 'uploads.photo', state: 'discarded', count: 2 },
    { queue: 'default', kind: 'sessions.prune', state: 'completed', count: 7 },
    { queue: 'photos', kind: 'uploads.photo', state: 'completed', count: 40 },
  ]);
  assert.deepEqual(rows.map((r) => [r.queue, r.kind, r.total]), [['default', 'sessions.prune', 7], ['photos', 'uploads.photo', 42]]);
  assert.equal(rows[1].states.discarded, 2);
  assert.equal(rows[1].states.running, 0, 'a state without jobs shows zero');
});

test('queue depths count only unfinished jobs, per queue', () => {
  const depths = queueDepths([
    { queue: 'photos', kind: 'uploads.photo', state: 'available', count: 3 },
    { queue: 'photos', kind: 'uploads.pdf', state: 'available', count: 2 },
    { queue: 'photos', kind: 'uploads.photo', state: 'completed', count: 90 },
    { queue: 'default', kind: 'jobs.prune', state: 'scheduled', count: 1 },
  ]);
  assert.deepEqual(depths, [
    { queue: 'default', available: 0, scheduled: 1, retryable: 0, running: 0 },
    { queue: 'photos', available: 5, scheduled: 0, retryable: 0, running: 0 },
  ]);
  assert.deepEqual(queueDepths([{ queue: 'x', kind: 'k', state: 'cancelled', count: 1 }]), [], 'finished jobs are no depth');
});

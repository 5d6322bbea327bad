// The Fleet page's fingerprint comparisons (console/fingerprints.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instancesOf, acrossInstances, betweenDeployments, parsePasted } from '../../../console/fingerprints.js';

const secret = (name, state, fingerprint) => ({ name, state, version: 1, fingerprint, origin: 'file' });
const fleet = (...instances) => ({ agrees: false, instances: instances.map(([id, secrets]) => ({ id, secrets })) });

test('reads GET /admin/fleet and GET /admin/secrets alike', () => {
  const a = instancesOf(fleet(['a', [secret('JWT_SECRET', 'current', 'aaa')]], ['b', []]));
  assert.deepEqual([...a.keys()], ['a', 'b']);
  assert.equal(a.get('a').get('JWT_SECRET current'), 'aaa');
  const one = instancesOf({ instance_id: 'x', secrets: [secret('JWT_SECRET', 'previous', 'ppp')] });
  assert.equal(one.get('x').get('JWT_SECRET previous'), 'ppp');
  assert.throws(() => instancesOf({ hello: 1 }), /GET \/admin\/fleet or GET \/admin\/secrets/);
  assert.throws(() => parsePasted('{nope'), /not JSON/);
  assert.throws(() => parsePasted('{"secrets":[{"name":"JWT_SECRET"}]}'), /fingerprint/);
});

test('across instances: the same fingerprints agree, a different or missing one is marked, rows in runbook order', () => {
  const rows = acrossInstances(instancesOf(fleet(
    ['a', [secret('JWT_SECRET', 'previous', 'old'), secret('JWT_SECRET', 'current', 'new'), secret('S3_ACCESS_KEY_ID', 'current', 's3')]],
    ['b', [secret('JWT_SECRET', 'current', 'new'), secret('JWT_SECRET', 'pending', 'nxt'), secret('S3_ACCESS_KEY_ID', 'current', 's3')]],
  )));
  assert.deepEqual(rows.map((r) => [r.key, r.agrees]), [
    ['JWT_SECRET current', true],
    ['JWT_SECRET pending', false],
    ['JWT_SECRET previous', false],
    ['S3_ACCESS_KEY_ID current', true],
  ]);
  assert.equal(rows[1].values.get('a'), null, 'a version an instance lacks shows as missing there');
  assert.equal(rows[1].values.get('b'), 'nxt');
});

test('between deployments: same, differs, only here, only there', () => {
  const here = instancesOf(fleet(['a', [secret('JWT_SECRET', 'current', 'j1'), secret('UPLOAD_GUEST_TOKEN_SECRET', 'current', 'u1')]],
    ['b', [secret('JWT_SECRET', 'current', 'j1'), secret('UPLOAD_GUEST_TOKEN_SECRET', 'current', 'u1'), secret('JWT_SECRET', 'previous', 'j0')]]));
  const there = instancesOf({ instance_id: 's', secrets: [secret('JWT_SECRET', 'current', 'j1'), secret('UPLOAD_GUEST_TOKEN_SECRET', 'current', 'u2'), secret('GANTRY_ADMIN_TOKEN', 'current', 't')] });
  const verdicts = Object.fromEntries(betweenDeployments(here, there).map((r) => [r.key, r.verdict]));
  assert.deepEqual(verdicts, {
    'GANTRY_ADMIN_TOKEN current': 'only there',
    'JWT_SECRET current': 'same',
    'JWT_SECRET previous': 'only here',
    'UPLOAD_GUEST_TOKEN_SECRET current': 'differs',
  });
});

// The Fleet page's reading of /metrics (console/metrics.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, serverErrors, refusals, increases, sparkline } from '../../../console/metrics.js';

const TEXT = `# HELP gantry_http_requests_total HTTP requests answered.
# TYPE gantry_http_requests_total counter
gantry_http_requests_total{listener="public",route="/v1/auth/me",method="GET",status="200"} 40
gantry_http_requests_total{listener="public",route="/v1/auth/me",method="GET",status="401"} 3
gantry_http_requests_total{listener="public",route="/v1/uploads",method="POST",status="429"} 2
gantry_http_requests_total{listener="admin",route="/admin/fleet",method="GET",status="503"} 1
gantry_http_requests_total{listener="public",route="unmatched",method="GET",status="500"} 4
gantry_http_shed_total{listener="public"} 5
gantry_http_connections_refused_total{listener="public"} 1
gantry_http_request_duration_seconds_bucket{listener="public",route="/x",status_class="2xx",le="0.1"} 7
weird_label{path="a\\"b"} 1.5
`;

test('parses samples with labels, escapes and values', () => {
  const samples = parse(TEXT);
  assert.equal(samples.length, 9);
  assert.deepEqual(samples[0].labels, { listener: 'public', route: '/v1/auth/me', method: 'GET', status: '200' });
  assert.equal(samples.at(-1).labels.path, 'a"b');
  assert.equal(samples.at(-1).value, 1.5);
});

test('sums 5xx answers and refusals', () => {
  const samples = parse(TEXT);
  assert.equal(serverErrors(samples), 5);
  assert.equal(refusals(samples), 3 + 2 + 5 + 1);
});

test('increases between scrapes, a reset counting from zero; sparkline points', () => {
  assert.deepEqual(increases([1, 4, 4, 10, 2]), [3, 0, 6, 2]);
  assert.deepEqual(increases([7]), []);
  assert.equal(sparkline([0, 2, 1], 100, 10), '0,10 50,0 100,5');
  assert.equal(sparkline([0, 0], 100, 10), '0,10 100,10');
  assert.equal(sparkline([], 100, 10), '');
});

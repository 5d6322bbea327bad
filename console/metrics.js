// Reading this instance's `/metrics` (Prometheus text format) for the Fleet page's small charts: recent
// refusals and 5xx answers, as increases between scrapes. Pure functions, unit-tested under node
// (tests/console/unit/metrics.test.mjs).

/**
 * The samples of a Prometheus text exposition.
 * @param {string} text
 * @returns {{name: string, labels: Record<string, string>, value: number}[]}
 */
export function parse(text) {
  const samples = [];
  for (const raw of String(text).split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    const body = match[3] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let m;
    while ((m = re.exec(body)) !== null) labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    const value = Number(match[4]);
    if (!Number.isNaN(value)) samples.push({ name: match[1], labels, value });
  }
  return samples;
}

const sum = (samples, keep) => samples.filter(keep).reduce((total, s) => total + s.value, 0);

/** Requests answered with a 5xx status, on both listeners. */
export function serverErrors(samples) {
  return sum(samples, (s) => s.name === 'gantry_http_requests_total' && String(s.labels.status).startsWith('5'));
}

/**
 * Refusals: requests answered 401, 403 or 429, requests shed under overload, and connections refused by the
 * connection limits.
 */
export function refusals(samples) {
  const refusedStatus = new Set(['401', '403', '429']);
  return sum(samples, (s) =>
    (s.name === 'gantry_http_requests_total' && refusedStatus.has(String(s.labels.status)))
    || s.name === 'gantry_http_shed_total'
    || s.name === 'gantry_http_connections_refused_total'
    || s.name === 'gantry_http_connections_refused_per_address_total');
}

/**
 * The increase between consecutive totals of a counter (a restart's reset counts from zero, as Prometheus'
 * `increase` does).
 * @param {number[]} totals
 */
export function increases(totals) {
  const out = [];
  for (let i = 1; i < totals.length; i += 1) {
    const delta = totals[i] - totals[i - 1];
    out.push(delta >= 0 ? delta : totals[i]);
  }
  return out;
}

/**
 * The `points` of an SVG polyline drawing `values` in a `width` × `height` box (the largest value at the top;
 * all zeros along the bottom).
 */
export function sparkline(values, width, height) {
  if (!values.length) return '';
  const max = Math.max(...values, 1);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  return values
    .map((v, i) => `${Math.round(i * step * 10) / 10},${Math.round((height - (v / max) * height) * 10) / 10}`)
    .join(' ');
}

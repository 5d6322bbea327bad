// Formatting for people: ages, instants, ids, counts. Pure functions (no DOM), unit-tested under node
// (tests/console/unit/format.test.mjs).

/**
 * A duration in milliseconds as a short age: `850 ms`, `12 s`, `3 min 5 s`, `2 h 4 min`, `3 d 1 h`.
 * @param {number|null|undefined} ms
 */
export function age(ms) {
  if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return '—';
  const value = Math.max(0, Math.round(Number(ms)));
  if (value < 1000) return `${value} ms`;
  const s = Math.floor(value / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return s % 60 ? `${min} min ${s % 60} s` : `${min} min`;
  const hours = Math.floor(min / 60);
  if (hours < 24) return min % 60 ? `${hours} h ${min % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/**
 * An RFC 3339 instant as `2026-12-07 00:07:16 UTC` (UTC: operators compare logs across zones).
 * @param {string|null|undefined} iso
 */
export function instant(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** How long ago `iso` was, relative to `now` (ms since the epoch). */
export function since(iso, now = Date.now()) {
  if (!iso) return '—';
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return '—';
  return `${age(now - then)} ago`;
}

/**
 * The last 8 characters of an id (the full id goes in a title or beside it). The last, not the first: a UUID v7
 * starts with its timestamp, so ids made within the same minute share their first 8.
 */
export function shortId(id) {
  return id ? String(id).slice(-8) : '—';
}

/** A count with a unit: `1 job`, `3 jobs`. */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** A value for a table cell: null and undefined as a dash, objects as compact JSON. */
export function cell(value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The problem of an error as `title: detail` (or the title alone). */
export function problemText(problem) {
  if (!problem) return '';
  const title = problem.title ?? 'Error';
  return problem.detail ? `${title}: ${problem.detail}` : title;
}

const JOB_STATES = ['scheduled', 'available', 'running', 'retryable', 'completed', 'discarded', 'cancelled'];

/**
 * The rows of the jobs' counts table from `GET /admin/jobs/counts`: one per queue and kind, a count for every
 * state (zero when it has none) and their total; ordered by queue, then kind.
 * @param {{queue: string, kind: string, state: string, count: number}[]} counts
 * @returns {{queue: string, kind: string, states: Record<string, number>, total: number}[]}
 */
export function countRows(counts) {
  const rows = new Map();
  for (const c of counts) {
    const key = `${c.queue}\u0000${c.kind}`;
    if (!rows.has(key)) rows.set(key, { queue: c.queue, kind: c.kind, states: Object.fromEntries(JOB_STATES.map((s) => [s, 0])), total: 0 });
    const row = rows.get(key);
    row.states[c.state] = (row.states[c.state] ?? 0) + c.count;
    row.total += c.count;
  }
  return [...rows.values()].sort((a, b) => a.queue.localeCompare(b.queue) || a.kind.localeCompare(b.kind));
}

/**
 * Unfinished jobs per queue from `GET /admin/jobs/counts` (the Fleet page's queue depths), queues in order.
 * @returns {{queue: string, available: number, scheduled: number, retryable: number, running: number}[]}
 */
export function queueDepths(counts) {
  const queues = new Map();
  for (const c of counts) {
    if (!['available', 'scheduled', 'retryable', 'running'].includes(c.state)) continue;
    if (!queues.has(c.queue)) queues.set(c.queue, { queue: c.queue, available: 0, scheduled: 0, retryable: 0, running: 0 });
    queues.get(c.queue)[c.state] += c.count;
  }
  return [...queues.values()].sort((a, b) => a.queue.localeCompare(b.queue));
}

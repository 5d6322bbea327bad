// The Forms page's comparison, without the page: which parts of the browser's evaluation (the @gantry/forms
// runtime) differ from the server's answer, and how each part reads in a table cell.

/** The parts of an evaluation, in the order the page shows them. */
export const PARTS = [
  ['visible', 'Visible'],
  ['required', 'Required'],
  ['reset', 'Reset'],
  ['errors', 'Errors'],
  ['options', 'Option lists'],
  ['carried_over', 'Carried over'],
];

/** Structural equality of two JSON values (key order of objects does not count, array order does). */
export function same(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
}

/** The keys of `PARTS` whose values differ between the browser's evaluation and the server's. */
export function differences(browser, server) {
  return PARTS.map(([key]) => key).filter((key) => !same(browser?.[key], server?.[key]));
}

/** One part as text lines for a table cell. */
export function describe(key, value) {
  if (value === undefined) return ['—'];
  switch (key) {
    case 'errors':
      return value.length ? value.map((e) => `${e.field}: ${e.code} — ${e.message}`) : ['none'];
    case 'options': {
      const entries = Object.entries(value);
      return entries.length ? entries.map(([field, list]) => `${field}: ${list.kind}${list.parent_id ? ` under ${list.parent_id}` : ''}`) : ['none'];
    }
    case 'carried_over':
      return [
        `kept: ${Object.keys(value.values ?? {}).join(', ') || 'nothing'}`,
        ...(value.dropped ?? []).map((d) => `dropped ${d.field}: ${d.reason}`),
        ...(value.dropped_unlisted ? [`and ${value.dropped_unlisted} more dropped`] : []),
      ];
    default:
      return [value.length ? value.join(', ') : 'none'];
  }
}

/** A field's typed value from what its control holds (`undefined`: empty, leave it out). Numbers that do not
 * read as numbers are sent as typed, so the server's `invalid_type` shows as well. */
export function parseInput(type, raw) {
  if (Array.isArray(raw)) return raw.length ? raw : undefined;
  if (raw === '') return undefined;
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  if (type === 'number' || type === 'integer' || type === 'year') {
    const n = Number(raw.trim());
    return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
  }
  return raw;
}

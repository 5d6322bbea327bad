// The catalog review queue's grouping: options of one kind under one parent whose names are the same or
// nearly so (case, accents, spacing and punctuation aside), the candidates for a merge. Pure functions,
// unit-tested under node (tests/console/unit/review.test.mjs).

/** A name reduced for comparison: lower case, accents dropped, letters and digits only. */
export function nearKey(name) {
  return String(name)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '');
}

/**
 * Groups of two or more options sharing kind, parent and {@link nearKey}, largest first.
 * @param {{id: string, kind: string, parent_id: string|null, name: string}[]} options
 */
export function nearDuplicates(options) {
  const groups = new Map();
  for (const option of options) {
    const key = `${option.kind}\u0000${option.parent_id ?? ''}\u0000${nearKey(option.name)}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(option);
  }
  return [...groups.values()].filter((g) => g.length > 1).sort((a, b) => b.length - a.length);
}

/**
 * The options a merge may keep for `option`: the others of its kind, by name.
 */
export function survivorsFor(option, options) {
  return options
    .filter((o) => o.id !== option.id && o.kind === option.kind)
    .sort((a, b) => a.name.localeCompare(b.name));
}

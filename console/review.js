// The catalog review queue's logic: who created an option, as a moderator reads it, and the survivors a merge
// may keep. Pure functions, unit-tested under node (tests/console/unit/review.test.mjs). The near-duplicate
// groups themselves come from the server (GET /admin/options/duplicates): its identity and near-match rules are
// the catalog's own.

import { age, shortId } from './format.js';

/**
 * The creator of an option: `alice@example.com, account 3 h 5 min old` (a deleted account by its id; the seed's
 * and operators' options have none).
 * @param {{id: string, email: string|null, account_age_secs: number|null}|null|undefined} creator
 */
export function creatorText(creator) {
  if (!creator) return 'seed or operator';
  const who = creator.email ?? `deleted account ${shortId(creator.id)}`;
  const secs = creator.account_age_secs;
  if (secs === null || secs === undefined) return `${who}, account age unknown`;
  return `${who}, account ${secs < 1 ? 'under 1 s' : age(secs * 1000)} old`;
}

const byName = (a, b) => a.name.localeCompare(b.name);

/**
 * The options a merge of `option` may keep, by name: the others of its near-duplicate group first (marked
 * `near`), then every other option of its kind; each once, never the option itself.
 * @param {{id: string, kind: string}} option
 * @param {{id: string, kind: string, name: string}[]} options the recent options
 * @param {{id: string, kind: string, name: string}[]} [group] the option's near-duplicate group, if any
 */
export function survivorsFor(option, options, group = []) {
  const others = (list) => list.filter((o) => o.id !== option.id && o.kind === option.kind);
  const near = others(group).sort(byName);
  const seen = new Set(near.map((o) => o.id));
  const rest = others(options).filter((o) => !seen.has(o.id)).sort(byName);
  return [...near.map((o) => ({ ...o, near: true })), ...rest.map((o) => ({ ...o, near: false }))];
}

// The fingerprint comparisons of the Fleet page (the runbook's "check the fleet" step): across this fleet's
// instances, and between this fleet and another deployment's pasted JSON. Pure functions, unit-tested under node
// (tests/console/unit/fingerprints.test.mjs).

const STATES = ['current', 'pending', 'previous'];

/** `NAME state` of one secret version. */
export const keyOf = (name, state) => `${name} ${state}`;

/**
 * The fingerprints of each instance of a JSON document: `GET /admin/fleet` (every instance) or
 * `GET /admin/secrets` (one instance).
 * @returns {Map<string, Map<string, string>>} instance id → (`NAME state` → fingerprint)
 * @throws {Error} when the document is neither
 */
export function instancesOf(doc) {
  const map = new Map();
  const read = (id, secrets) => {
    if (!Array.isArray(secrets)) throw new Error('`secrets` is not a list');
    const versions = new Map();
    for (const s of secrets) {
      if (!s || typeof s.name !== 'string' || typeof s.state !== 'string' || typeof s.fingerprint !== 'string') {
        throw new Error('a secret without name, state and fingerprint');
      }
      versions.set(keyOf(s.name, s.state), s.fingerprint);
    }
    map.set(String(id ?? 'unknown'), versions);
  };
  if (doc && Array.isArray(doc.instances)) {
    for (const instance of doc.instances) read(instance.id, instance.secrets ?? []);
  } else if (doc && Array.isArray(doc.secrets)) {
    read(doc.instance_id, doc.secrets);
  } else {
    throw new Error('expected the JSON of GET /admin/fleet or GET /admin/secrets');
  }
  return map;
}

/** Parses pasted text with {@link instancesOf}; a JSON error names itself. */
export function parsePasted(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON (${err.message})`);
  }
  return instancesOf(doc);
}

/** Sorts `NAME state` keys by name, then current, pending, previous. */
function sortKeys(keys) {
  return [...keys].sort((a, b) => {
    const [na, sa] = a.split(' ');
    const [nb, sb] = b.split(' ');
    return na === nb ? STATES.indexOf(sa) - STATES.indexOf(sb) : na.localeCompare(nb);
  });
}

/**
 * Per secret version, each instance's fingerprint, and whether they agree (a version one instance lacks
 * disagrees, as on the server).
 * @param {Map<string, Map<string, string>>} instances
 * @returns {{key: string, name: string, state: string, values: Map<string, string|null>, agrees: boolean}[]}
 */
export function acrossInstances(instances) {
  const keys = new Set();
  for (const versions of instances.values()) for (const key of versions.keys()) keys.add(key);
  return sortKeys(keys).map((key) => {
    const values = new Map();
    for (const [id, versions] of instances) values.set(id, versions.get(key) ?? null);
    const distinct = new Set(values.values());
    const [name, state] = key.split(' ');
    return { key, name, state, values, agrees: distinct.size <= 1 };
  });
}

/**
 * This deployment against another one: for each secret version, the fingerprints each side holds (over all
 * its instances) and the verdict.
 * @returns {{key: string, name: string, state: string, here: string[], there: string[],
 *   verdict: 'same'|'differs'|'only here'|'only there'}[]}
 */
export function betweenDeployments(here, there) {
  const collect = (instances) => {
    const out = new Map();
    for (const versions of instances.values()) {
      for (const [key, fp] of versions) {
        if (!out.has(key)) out.set(key, new Set());
        out.get(key).add(fp);
      }
    }
    return out;
  };
  const a = collect(here);
  const b = collect(there);
  return sortKeys(new Set([...a.keys(), ...b.keys()])).map((key) => {
    const [name, state] = key.split(' ');
    const hereFps = [...(a.get(key) ?? [])].sort();
    const thereFps = [...(b.get(key) ?? [])].sort();
    let verdict;
    if (!hereFps.length) verdict = 'only there';
    else if (!thereFps.length) verdict = 'only here';
    else verdict = hereFps.join() === thereFps.join() ? 'same' : 'differs';
    return { key, name, state, here: hereFps, there: thereFps, verdict };
  });
}

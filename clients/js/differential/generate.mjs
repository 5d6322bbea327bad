// Random material for the differential test, from one seeded generator: template sets that use the whole
// runtime (every json-logic-js operator in conditions over earlier fields, `dependsOn` with and without
// `resetOnChange`, cascading `dataSource`s, patterns, ranges, fixed options), and form values — valid ones,
// and hostile ones (numbers as strings, `null`, `""`, blanks of every White_Space, arrays, objects, `1e21`,
// `-0`, ids in other spellings and under other parents, unknown and oddly ordered keys).

/** A small seeded generator (mulberry32). */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
    some: (items, p) => items.filter(() => next() < p),
    uuid: () => {
      const hex = Array.from({ length: 32 }, () => Math.floor(next() * 16).toString(16)).join('');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`;
    },
  };
  return r;
}

// Patterns in Rust `regex` syntax whose classes mean other things in JavaScript.
export const PATTERNS = ['[A-HJ-NPR-Z0-9]{17}', '\\d{2,4}', '\\w+', '.{1,5}', '[a-z ]*', '\\d+(\\.\\d+)?', '(?i)ab.*',
  '\\s*x\\s*', '[^,]+', 'a|bc', '\\p{Lu}\\p{Ll}*', '[\\d\\-]+', '(?:ja|nein)', '\\x41\\x{42}c?'];
const WORDS = ['a', 'b', 'c', '1', 'ü', 'Ab', 'x y', 'damaged', 'diesel'];

const ops1 = ['!', '!!'];
const ops2 = ['==', '===', '!=', '!==', '<', '<=', '>', '>=', 'in', '+', '-', '*', '/', '%', 'min', 'max', 'cat',
  'merge', 'substr', 'if', 'or', 'and', '?:'];

function literal(r) {
  return r.pick([0, 1, -1, 2.5, '', '0', '1', '12', 'a', 'ab', 'true', 'damaged', null, true, false, 1e21, [], [1, 'a'],
    { a: 1, b: 2 }, {}, ' ', '1e3', '-0', 'ü']);
}

/** A random condition reading the fields `names` (all earlier in the form), `depth` levels at most. */
export function condition(r, names, depth = 3) {
  const v = () => (names.length > 0 && r.chance(0.8) ? { var: r.pick(names) } : literal(r));
  const v2 = () => (names.length > 0 && r.chance(0.3) ? { var: [r.pick(names), literal(r)] } : v());
  const sub = () => (depth > 1 && r.chance(0.5) ? condition(r, names, depth - 1) : v2());
  const k = r.int(14);
  if (names.length > 0 && k === 0) return { missing: r.some(names, 0.5).concat(names[0]) };
  if (names.length > 0 && k === 1) return { missing_some: [r.int(3), r.some(names, 0.6).concat(names[0])] };
  if (names.length > 0 && k === 2) {
    const over = { var: r.pick(names) };
    const each = r.pick([
      { '==': [{ var: '' }, r.pick(WORDS)] },
      { '>': [{ var: '' }, r.int(3)] },
      { '!!': { var: '' } },
      { in: [{ var: '' }, 'abc'] },
    ]);
    return r.pick([{ some: [over, each] }, { all: [over, each] }, { none: [over, each] }, { filter: [over, each] },
      { map: [over, { '*': [{ var: '' }, 2] }] }, { reduce: [over, { '+': [{ var: 'current' }, { var: 'accumulator' }] }, 0] }]);
  }
  if (k === 3) return { [r.pick(ops1.concat('log'))]: [sub()] };
  if (k === 4) return { '<': [sub(), sub(), sub()] };
  if (k === 5) return { substr: [sub(), r.pick([0, 1, -1, '1', -2]), r.pick([1, -1, 2])] };
  if (k === 6) return { if: [sub(), sub(), sub()] };
  if (k === 7) return { '-': [sub()] };
  const op = r.pick(ops2);
  return { [op]: [sub(), sub()] };
}

const MESSAGE_CODES = ['required', 'invalid_type', 'below_min', 'above_max', 'too_long', 'pattern_mismatch', 'unknown_option'];
const OWN_MESSAGES = ['{label}: bitte prüfen', '{label} — {min}…{max}', 'not {value} in {label}', 'Неверно: {label}', '{label}{label}', 'plain'];
const SUFFIXES = { de: ' (de) ß', pl: ' (pl) ł', ru: ' (ru) ж' };

/** `text` as a map of locales: the default (en) always, each other served locale most of the time. */
function translated(r, text) {
  const map = { en: text };
  for (const [tag, suffix] of Object.entries(SUFFIXES)) if (r.chance(0.7)) map[tag] = `${text}${suffix}`;
  return map;
}

const TYPES = ['text', 'number', 'integer', 'year', 'select', 'multiselect', 'boolean'];

/**
 * A generated template set: one template per category name in `categories`, and an override for each
 * `subcategories[category]` (fields replaced with other types, fields added), over catalog-backed selects.
 */
export function templateSet(r, categories, subcategories) {
  const templates = [];
  for (const category of categories) {
    const fields = [];
    const names = [];
    const add = (field) => {
      fields.push(field);
      names.push(field.name);
    };
    // Catalog cascades, named as the bundled forms name them (so carry-over meets them).
    add({ name: 'brand', type: 'select', label: 'Brand', required: r.chance(0.5), dataSource: { kind: 'brand' } });
    add({ name: 'model', type: r.chance(0.8) ? 'select' : 'multiselect', label: 'Model "X"', dataSource: { kind: 'model', parentField: 'brand' },
      ...(r.chance(0.3) ? { resetOnChange: false } : {}) });
    if (r.chance(0.7)) {
      add({ name: 'country', type: 'select', label: 'Land', dataSource: { kind: 'country' } });
      add({ name: 'city', type: 'select', label: 'Stadt', required: r.chance(0.5), dataSource: { kind: 'city', parentField: 'country' } });
    }
    const n = 5 + r.int(8);
    for (let i = 0; i < n; i += 1) {
      const type = r.pick(TYPES);
      const name = r.chance(0.2) ? r.pick(['year', 'condition', 'mileage_km', 'price_eur', 'payload_kg', 'axles', 'adr']) : `f${i}`;
      if (names.includes(name)) continue;
      const field = { name, type, label: r.pick([`Field ${i}`, `Feld ${i} „ü”`, `Поле ${i}`, `f{${i}}`]) };
      if (r.chance(0.3)) field.required = true;
      if (type === 'select' || type === 'multiselect') field.options = r.some(WORDS, 0.5).concat('z').map((value) => ({ value, label: value.toUpperCase() }));
      if (['number', 'integer', 'year'].includes(type) && r.chance(0.6)) {
        const min = r.pick([0, -40, 0.5, 1, 1900, 1e-7]);
        field.validation = { min, max: min + r.pick([1, 10, 1000, 1e21]) };
        if (r.chance(0.3)) delete field.validation.min;
      }
      if (type === 'text' && r.chance(0.6)) {
        field.validation = {};
        if (r.chance(0.6)) field.validation.maxLength = 1 + r.int(8);
        if (r.chance(0.6)) field.validation.pattern = r.pick(PATTERNS);
      }
      const earlier = names.slice();
      if (earlier.length > 0 && r.chance(0.55)) {
        // Chains of plain reads make "hidden means absent" matter: a field shown by a hidden one's value.
        const read = { var: r.pick(earlier.slice(-3)) };
        field.visibleIf = r.chance(0.5) ? r.pick([{ '!!': [read] }, { '==': [read, r.pick(WORDS)] }, { '!': [{ missing: [read.var] }] }]) : condition(r, earlier, 1 + r.int(3));
      }
      if (r.chance(0.3)) field.requiredIf = condition(r, names.concat([]), 1 + r.int(2));
      if (earlier.length > 0 && r.chance(0.3)) {
        field.dependsOn = r.some(earlier, 0.3).concat(r.pick(earlier)).filter((x, j, all) => all.indexOf(x) === j);
        if (r.chance(0.4)) field.resetOnChange = r.chance(0.3);
      }
      // Translations: a label and own messages as maps of locales (some locales left out: they fall back), so
      // each locale's answers differ and both sides must resolve and fill the same texts.
      if (r.chance(0.4)) field.label = translated(r, field.label);
      if (r.chance(0.35)) {
        field.validation = { ...(field.validation ?? {}), messages: {} };
        for (const code of r.some(MESSAGE_CODES, 0.4)) {
          const text = r.pick(OWN_MESSAGES);
          field.validation.messages[code] = r.chance(0.6) ? translated(r, text) : text;
        }
      }
      add(field);
    }
    templates.push({ category, blocks: [{ name: 'generated', label: translated(r, 'Generated'), fields }] });
    for (const sub of subcategories[category] ?? []) {
      const over = [];
      for (const f of fields) {
        if (f.dataSource || !r.chance(0.3)) continue;
        const type = r.pick(TYPES);
        const replaced = { name: f.name, type, label: `${typeof f.label === 'string' ? f.label : f.label.en} (${sub})` };
        if (type === 'select' || type === 'multiselect') replaced.options = r.some(WORDS, 0.6).concat('y').map((value) => ({ value, label: value }));
        over.push(replaced);
      }
      over.push({ name: 'extra', type: r.pick(['text', 'integer']), label: 'Extra', required: r.chance(0.5) });
      templates.push({ category, subcategory: sub, blocks: [{ name: 'generated', fields: over }] });
    }
  }
  return { templates };
}

const BLANKS = ['', ' ', '\u0085', '\ufeff', '\u3000', '\t\n'];

/** A value for `field` of a form: valid ones mostly, hostile ones often. `ids(kind, parentId)` gives ids of a
 * catalog list, `parentOf(field)` the value the form holds in its parent field. */
export function value(r, field, catalog, state) {
  const hostile = () => r.pick([null, '', ' ', '12', '1.5', '-0', 0, -1, 1e21, 2019.5, true, false, [], ['a'], [1, 2], {},
    { a: 1 }, 'not-a-uuid', r.pick(BLANKS) + 'a' + r.pick(BLANKS), 'Zürich', '😀', ...(r.chance(0.1) ? ['half \ud83d'] : [])]);
  if (r.chance(0.25)) return hostile();
  switch (field.type) {
    case 'text': {
      const base = r.pick(['ABC', 'abc', 'x', ' x ', '12', '1.5', 'Ab', 'ÄÖ', '١٢٣', '٣', 'ja', 'bc', 'a,b', 'WVWZZZ1JZXW000001',
        'WVWZZZ1JZXW00000I', 'AB\nC', 'x'.repeat(9), 'a😀b', 'é́']);
      if (r.chance(0.15)) return r.pick(BLANKS);
      return r.chance(0.2) ? r.pick(BLANKS) + base + r.pick(BLANKS) : base;
    }
    case 'number':
    case 'integer':
    case 'year':
      return r.pick([0, 1, 2, 5, 10.5, 100, 1900, 1899, 2019, new Date().getUTCFullYear() + 1, new Date().getUTCFullYear() + 2, 1e21, -40, -41, 0.5, 1e-7, 1e-8, 3000]);
    case 'boolean':
      return r.chance(0.8) ? r.chance(0.5) : r.pick(['true', 1, 0]);
    case 'select':
    case 'multiselect': {
      let one;
      if (field.dataSource) one = optionValue(r, field, catalog, state);
      else one = r.chance(0.85) ? r.pick((field.options ?? []).map((o) => o.value).concat('nope')) : r.pick(['A', ' a', 'a ', 'ü']);
      if (field.type === 'select') return one;
      return r.chance(0.1) ? one : [one, ...(r.chance(0.3) ? [field.dataSource ? optionValue(r, field, catalog, state) : 'b'] : [])];
    }
    default:
      return hostile();
  }
}

function optionValue(r, field, catalog, state) {
  const { kind, parentField } = field.dataSource;
  const parent = parentField ? state[parentField] : null;
  const own = parentField ? catalog.children(kind, typeof parent === 'string' ? parent : null) : catalog.top(kind);
  const other = catalog.any(kind);
  const roll = r.next();
  const id = own.length > 0 && roll < 0.6 ? r.pick(own) : roll < 0.8 && other.length > 0 ? r.pick(other) : r.uuid();
  const spell = r.next();
  if (spell < 0.85) return id;
  if (spell < 0.9) return id.toUpperCase();
  if (spell < 0.94) return `{${id}}`;
  if (spell < 0.97) return id.replaceAll('-', '');
  return `urn:uuid:${id}`;
}

/** Keys a form does not have, some sorting differently in UTF-16 and in code points. */
export function unknownKeys(r) {
  return r.some(['zz_unknown', 'Z', 'é', '\uff5e', '😀', 'a'.repeat(70), '_x', 'values', 'brand ', 'ü', '\u{10000}'], 0.35);
}

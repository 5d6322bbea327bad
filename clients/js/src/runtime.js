// The form runtime, without I/O: the same cascade the server runs for `POST /v1/templates/{id}/evaluate`
// (actors/src/catalog/templates/compiled.rs), step for step, so that a front end can answer every keystroke
// itself and get the server's answer:
//
// 1. resets: every field depending on a changed field (`dependsOn`, `dataSource.parentField`) with
//    `resetOnChange` (default true), transitively; the changed fields themselves never;
// 2. the values the form reads: known, not reset, text trimmed (Unicode White_Space);
// 3. hidden means absent: visibility to a fixpoint, each pass reading only the values of the fields the
//    previous pass showed;
// 4. per visible field in form order: required (`required`, `requiredIf`), the option list to load, the value's
//    checks (codes and messages as the server writes them);
// 5. the catalog look-ups (`settle` once they are done): option ids in their lists, the dependent lists a
//    form names after them.
//
// Carrying values over to another form (`carryOver`) is the server's too. The look-ups need the option lists,
// which `client.js` loads; everything here is synchronous and pure.

import { conditionRunner } from './conditions.js';
import { compilePattern } from './pattern.js';
import { charCount, parseUuid, rustDebugString, rustFloat, rustTrim, sortedKeys } from './rust.js';

/** The option kinds, and the kind of each one's parent. */
export const OPTION_KINDS = Object.freeze({
  category: null,
  subcategory: 'category',
  brand: null,
  model: 'brand',
  country: null,
  city: 'country',
});

const FIRST_YEAR = 1900;
const UNKNOWN_FIELDS_LISTED = 5;
const ECHOED_NAME_CHARS = 64;
/** How many dropped values a carry-over lists one by one. */
export const DROPPED_LISTED = 50;

/** The server's built-in messages in English (`{label}` and the other placeholders filled in): only the fallback
 * for a form that carries none. A served form carries its locale's (`messages`, from the server's one table
 * in actors/src/catalog/templates/messages.rs), which replace these; this package keeps no other language. */
export const MESSAGES = Object.freeze({
  required: '{label} is required',
  not_text: '{label} must be text',
  not_boolean: '{label} must be true or false',
  not_number: '{label} must be a number',
  not_whole: '{label} must be a whole number',
  not_list: '{label} must be a list of options',
  not_option: '{label} must be an option',
  too_long: '{label} is longer than {max} characters',
  pattern_mismatch: '{label} is not in the expected format',
  below_min: '{label} must be at least {min}',
  above_max: '{label} must be at most {max}',
  not_an_id: '{label} is not an option id',
  parent_missing: 'choose {parent} first',
  not_a_choice: '{value} is not an option of {label}',
  no_such_option: '{label}: no such option',
  no_such_option_under_parent: '{label}: no such option under the chosen parent',
  unknown_field: 'this form has no such field',
  more_unknown_fields: '{count} more values name no field of this form',
});

/** `name` as the server echoes it: at most 64 characters, an ellipsis marking a cut. */
export function shortenName(name) {
  const chars = [...name];
  return chars.length > ECHOED_NAME_CHARS ? `${chars.slice(0, ECHOED_NAME_CHARS).join('')}…` : name;
}

/** Whether a value counts as not given: `null`, blank text, an empty list. */
export function isEmpty(value) {
  if (value === null || value === undefined) return true;
  if (typeof value === 'string') return rustTrim(value) === '';
  if (Array.isArray(value)) return value.length === 0;
  return false;
}

const isNumeric = (type) => type === 'number' || type === 'integer' || type === 'year';
const isChoice = (type) => type === 'select' || type === 'multiselect';

/** Values as the server receives them: what `JSON.stringify` sends (`-0` is `0`, `undefined` is left out). */
export function asSent(values) {
  return values === undefined ? {} : JSON.parse(JSON.stringify(values));
}

const LONE_SURROGATE = /\p{Cs}/u;

/** Whether the server's JSON reader refuses these values (400 `malformed_json`): a string or key holding half of
 * a surrogate pair, which `JSON.stringify` writes as a `\ud800` escape and Rust strings cannot hold. */
export function unreadable(value) {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (Array.isArray(value)) return value.some(unreadable);
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([k, v]) => LONE_SURROGATE.test(k) || unreadable(v));
  return false;
}

function fill(template, args) {
  return template.replace(/\{(label|min|max|value|parent|count)\}/g, (all, name) => (name in args ? args[name] : all));
}

/**
 * Compiles a form (the body of `GET /v1/templates/{category_id}`) for evaluation.
 * @param {object} form the form as served: `{category_id, subcategory_id?, template, version, blocks}`
 * @param {{jsonLogic: object, messages?: Record<string, string>}} options the json-logic-js engine
 */
export function compileForm(form, { jsonLogic, messages } = {}) {
  const holds = conditionRunner(jsonLogic);
  const fields = [];
  const byName = new Map();
  for (const block of form.blocks ?? []) {
    for (const field of block.fields ?? []) {
      byName.set(field.name, fields.length);
      const dataSource = field.dataSource ?? null;
      const kind = dataSource && Object.hasOwn(OPTION_KINDS, dataSource.kind) ? dataSource.kind : null;
      const patternText = field.validation?.pattern;
      const pattern = typeof patternText === 'string' ? compilePattern(patternText) : null;
      fields.push({
        field,
        kind,
        pattern,
        // A pattern JavaScript cannot express faithfully: checked by the server only.
        patternUnchecked: typeof patternText === 'string' && pattern === null,
        resets: [],
        dependencies: [...(field.dependsOn ?? []), ...(dataSource?.parentField != null ? [dataSource.parentField] : [])],
      });
    }
  }
  fields.forEach((cf, i) => {
    if (cf.field.resetOnChange === false) return;
    for (const dep of cf.dependencies) {
      const d = byName.get(dep);
      if (d !== undefined && d !== i && !fields[d].resets.includes(i)) fields[d].resets.push(i);
    }
  });
  return {
    form,
    fields,
    byName,
    holds,
    // The built-in texts: the ones the form carries for its locale (`messages`, keyed as MESSAGES; the server
    // sends them with every form) replace the English fallback, and the caller's replace both.
    messages: { ...MESSAGES, ...(typeof form.messages === 'object' && form.messages !== null ? form.messages : {}), ...(messages ?? {}) },
    field(name) {
      const i = byName.get(name);
      return i === undefined ? undefined : fields[i].field;
    },
  };
}

function message(compiled, field, text, code, args) {
  const own = field?.validation?.messages?.[code];
  const template = typeof own === 'string' ? own : compiled.messages[text];
  return fill(template, field ? { label: field.label, ...args } : args);
}

/**
 * Evaluates the form for `values` after the fields in `changed` changed, up to the catalog look-ups.
 * @returns {{evaluation: object, checks: Array<{field: string, list: {kind: string, parent_id: string|null}, id: string}>, values: object, unchecked: string[]}}
 */
export function checkValues(compiled, values, changed = [], thisYear = new Date().getUTCFullYear()) {
  const { fields, byName, holds } = compiled;
  // The locale the messages are in: the form's, as the server's evaluate says it (a form without one: none).
  const locale = typeof compiled.form.locale === 'string' ? { locale: compiled.form.locale } : {};
  const evaluation = { ...locale, visible: [], required: [], reset: [], errors: [], options: {} };
  const checks = [];
  const cleaned = {};
  const unchecked = [];
  const reset = fields.map(() => false);
  const queue = changed.map((c) => byName.get(c)).filter((i) => i !== undefined);
  const origins = new Set(queue);
  while (queue.length > 0) {
    const i = queue.shift();
    for (const d of fields[i].resets) {
      if (!reset[d] && !origins.has(d)) {
        reset[d] = true;
        queue.push(d);
      }
    }
  }
  const data = {};
  let unknown = 0;
  for (const name of sortedKeys(values)) {
    const i = byName.get(name);
    if (i !== undefined) {
      if (!reset[i]) data[name] = trimmed(fields[i].field.type, values[name]);
    } else {
      unknown += 1;
      if (unknown <= UNKNOWN_FIELDS_LISTED) {
        evaluation.errors.push({ field: shortenName(name), code: 'unknown_field', message: message(compiled, null, 'unknown_field', 'unknown_field', {}) });
      }
    }
  }
  if (unknown > UNKNOWN_FIELDS_LISTED) {
    evaluation.errors.push({
      field: 'values',
      code: 'unknown_field',
      message: message(compiled, null, 'more_unknown_fields', 'unknown_field', { count: String(unknown - UNKNOWN_FIELDS_LISTED) }),
    });
  }
  const { visible, shown } = visibility(compiled, data);
  fields.forEach((cf, i) => {
    const { field } = cf;
    const name = field.name;
    if (reset[i]) evaluation.reset.push(name);
    if (!visible[i]) return;
    evaluation.visible.push(name);
    const required = field.required === true || (field.requiredIf != null && holds(field.requiredIf, shown));
    if (required) evaluation.required.push(name);
    const value = Object.hasOwn(shown, name) && !isEmpty(shown[name]) ? shown[name] : undefined;
    let list = null;
    if (cf.kind !== null) {
      const parentField = field.dataSource.parentField;
      if (parentField == null) list = { kind: cf.kind, parent_id: null };
      else {
        const parent = Object.hasOwn(shown, parentField) ? parseUuid(shown[parentField]) : null;
        if (parent !== null) list = { kind: cf.kind, parent_id: parent };
      }
    }
    const wanted = changed.length === 0 || reset[i] || cf.dependencies.some((d) => changed.includes(d));
    if (list !== null && wanted) evaluation.options[name] = list;
    if (value === undefined) {
      if (required) evaluation.errors.push({ field: name, code: 'required', message: message(compiled, field, 'required', 'required', {}) });
      return;
    }
    const problem = checkValue(compiled, cf, value, list, thisYear, checks);
    if (problem) evaluation.errors.push({ field: name, ...problem });
    else {
      cleaned[name] = typed(field.type, value);
      if (cf.patternUnchecked) unchecked.push(name);
    }
  });
  return { evaluation, checks, values: cleaned, unchecked };
}

function trimmed(type, value) {
  return type === 'text' && typeof value === 'string' ? rustTrim(value) : value;
}

function typed(type, value) {
  if ((type === 'integer' || type === 'year') && typeof value === 'number' && Math.abs(value) < 2 ** 53) {
    return Math.trunc(value) + 0;
  }
  return value;
}

/** Hidden means absent: passes until visibility settles, each reading the values of the fields the previous
 * pass showed (at most fields + 1 passes, as the server: `visibleIf` reads form no cycle). */
function visibility(compiled, data) {
  const { fields, byName, holds } = compiled;
  let visible = fields.map(() => true);
  let shown = { ...data };
  for (let pass = 0; pass <= fields.length; pass += 1) {
    const next = fields.map((cf) => cf.field.visibleIf == null || holds(cf.field.visibleIf, shown));
    const settled = next.every((v, i) => v === visible[i]);
    visible = next;
    shown = {};
    for (const [name, value] of Object.entries(data)) {
      if (visible[byName.get(name)]) shown[name] = value;
    }
    if (settled) break;
  }
  return { visible, shown };
}

function checkValue(compiled, cf, value, list, thisYear, checks) {
  const { field } = cf;
  const rules = field.validation ?? {};
  const fail = (code, text, args = {}) => ({ code, message: message(compiled, field, text, code, args) });
  switch (field.type) {
    case 'text': {
      if (typeof value !== 'string') return fail('invalid_type', 'not_text');
      if (typeof rules.maxLength === 'number' && charCount(value) > rules.maxLength) {
        return fail('too_long', 'too_long', { max: String(rules.maxLength) });
      }
      if (cf.pattern && !cf.pattern.test(value)) return fail('pattern_mismatch', 'pattern_mismatch');
      return null;
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : fail('invalid_type', 'not_boolean');
    case 'number':
    case 'integer':
    case 'year': {
      if (typeof value !== 'number') return fail('invalid_type', 'not_number');
      if (field.type !== 'number' && value % 1 !== 0) return fail('invalid_type', 'not_whole');
      let min = typeof rules.min === 'number' ? rules.min : null;
      let max = typeof rules.max === 'number' ? rules.max : null;
      if (field.type === 'year') {
        min ??= FIRST_YEAR;
        max ??= thisYear + 1;
      }
      if (min !== null && value < min) return fail('below_min', 'below_min', { min: rustFloat(min) });
      if (max !== null && value > max) return fail('above_max', 'above_max', { max: rustFloat(max) });
      return null;
    }
    case 'select':
    case 'multiselect': {
      let items;
      if (field.type === 'select') items = [value];
      else if (Array.isArray(value)) items = value;
      else return fail('invalid_type', 'not_list');
      for (const item of items) {
        if (typeof item !== 'string') return fail('invalid_type', 'not_option');
        if (cf.kind !== null) {
          const id = parseUuid(item);
          if (id === null) return fail('unknown_option', 'not_an_id');
          if (list === null) {
            const parent = field.dataSource?.parentField ?? '';
            const parentLabel = compiled.field(parent)?.label ?? parent;
            return fail('parent_missing', 'parent_missing', { parent: parentLabel });
          }
          checks.push({ field: field.name, list, id });
        } else if (!(field.options ?? []).some((o) => o.value === item)) {
          return fail('unknown_option', 'not_a_choice', { value: rustDebugString(item) });
        }
      }
      return null;
    }
    default:
      return null;
  }
}

/**
 * Finishes an evaluation once the catalog look-ups of `checks` are done: `found(check)` is the option the id
 * stands for in its list (`{id, name}`, the survivor for a merged id) or `null`. A missing option is an
 * `unknown_option` error (one per field); a dependent list whose parent field holds a merged id is the
 * survivor's, and one whose parent field has any error is not named.
 * @returns {Map<string, {id: string, name: string}>} per id looked up, the option found
 */
export function settle(compiled, evaluation, checks, found) {
  const names = new Map();
  checks.forEach((check, n) => {
    const option = found[n];
    if (option) {
      names.set(check.id, option);
      return;
    }
    const field = compiled.field(check.field);
    const text = check.list.parent_id !== null ? 'no_such_option_under_parent' : 'no_such_option';
    if (!evaluation.errors.some((e) => e.field === check.field)) {
      const label = field?.label ?? check.field;
      evaluation.errors.push({ field: check.field, code: 'unknown_option', message: fill(ownOr(compiled, field, text), { label }) });
    }
  });
  for (const list of Object.values(evaluation.options)) {
    const survivor = list.parent_id !== null ? names.get(list.parent_id) : undefined;
    if (survivor) list.parent_id = survivor.id;
  }
  const failed = new Set(evaluation.errors.map((e) => e.field));
  for (const [name, list] of Object.entries(evaluation.options)) {
    if (list.parent_id === null) continue;
    const parent = compiled.field(name)?.dataSource?.parentField;
    if (parent != null && failed.has(parent)) delete evaluation.options[name];
  }
  return names;
}

function ownOr(compiled, field, text) {
  const own = field?.validation?.messages?.unknown_option;
  return typeof own === 'string' ? own : compiled.messages[text];
}

/** The clean values of a submit, option ids resolved to `{id, name}` with the look-ups' `names`. */
export function resolveValues(compiled, values, names) {
  const out = {};
  for (const name of sortedKeys(values)) {
    let value = values[name];
    if (compiled.field(name)?.dataSource != null) {
      const resolve = (v) => {
        const option = names.get(parseUuid(v) ?? '');
        return option ? { id: option.id, name: option.name } : v;
      };
      value = Array.isArray(value) ? value.map(resolve) : resolve(value);
    }
    out[name] = value;
  }
  return out;
}

function compatibility(old, next, value) {
  const [a, b] = [old.type, next.type];
  if (isNumeric(a) && isNumeric(b)) {
    const fits = typeof value === 'number' && (b === 'number' || value % 1 === 0);
    return fits ? null : 'incompatible_type';
  }
  if (a !== b) return 'incompatible_type';
  if (!isChoice(a)) return null;
  const [x, y] = [old.dataSource ?? null, next.dataSource ?? null];
  if (x !== null && y !== null && x.kind === y.kind) return null;
  if (x === null && y === null) {
    const known = (v) => typeof v === 'string' && (next.options ?? []).some((o) => o.value === v);
    const allKnown = Array.isArray(value) ? value.every(known) : known(value);
    return allKnown ? null : 'not_an_option';
  }
  return 'incompatible_type';
}

/**
 * Carries `values`, filled in the form `previous`, over to the form `compiled` (the user changed the category
 * or subcategory): what `carried_over` of an evaluate with `from` says.
 * @returns {{values: object, dropped: Array<{field: string, reason: string}>, dropped_unlisted?: number}}
 */
export function carryOver(compiled, previous, values) {
  const carried = { values: {}, dropped: [] };
  let unlisted = 0;
  for (const name of sortedKeys(values)) {
    const value = values[name];
    const old = previous.field(name);
    const next = compiled.field(name);
    const reason = next === undefined ? 'not_in_new_form' : old === undefined ? 'not_in_previous_form' : compatibility(old, next, value);
    if (reason === null) carried.values[name] = value;
    else if (carried.dropped.length >= DROPPED_LISTED) unlisted += 1;
    else carried.dropped.push({ field: shortenName(name), reason });
  }
  if (unlisted > 0) carried.dropped_unlisted = unlisted;
  return carried;
}

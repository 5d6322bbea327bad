// The differential test of issue 22: the package and the server's `evaluate` side by side, over every form the
// bundled template set gives (each category, each subcategory) and over generated templates imported into the
// same instance, for random value states and change sequences (a user filling a form, changing fields, switching
// the category with the values carried over), hostile values included. Every answer is compared whole:
// visible, required, reset, errors (codes and messages, in order), the option lists named, carried-over values
// and dropped ones; for some states also submit (the clean values, or the 422's errors).
//
// Usage: node differential/run.mjs
//   GANTRY_BIN       the binary to start (default target/debug/gantry at the repository's root), or
//   GANTRY_PUBLIC_URL, GANTRY_ADMIN_URL, GANTRY_ADMIN_TOKEN   a running local-profile instance
//   FORMS_STATES     how many states at least (default 10000)    FORMS_SEED   the seed (default: random, printed)
//   FORMS_LANG       the locales, comma-separated (default en,de,pl,ru): the states cycle through them, each
//                    compared with a client sending that locale as ?lang= (labels, own messages, the form's
//                    built-in `messages`, option names in submits all in it)
//   FORMS_WORKERS    requests in flight (default 6; 1 to repeat a seed exactly)
// Prints `forms differential: N states, M templates, 0 differences` and the states per locale; exits 1 on any
// difference (the first ones printed in full, all of them in target/forms-differential.json).

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

import { createClient, FormsError, jsonLogic } from '../src/index.js';
import { rng, templateSet, unknownKeys, value } from './generate.mjs';
import { startInstance } from './instance.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const STATES = Number(process.env.FORMS_STATES ?? 10_000);
const SEED = Number(process.env.FORMS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const WORKERS = Number(process.env.FORMS_WORKERS ?? 6);
/** A label as a map of the four shipped languages. */
const translatedLabel = (en) => ({ en, de: `${en} (de)`, pl: `${en} (pl)`, ru: `${en} (ru)` });
const LOCALES = (process.env.FORMS_LANG || 'en,de,pl,ru').split(',').map((l) => l.trim()).filter((l) => l !== '');
const SHOW = 5;

// json-logic-js's `log` prints its argument (the server's prints nothing); same answer, quieter run.
jsonLogic.add_operation('log', (a) => a);
const r = rng(SEED);
const started = Date.now();
const instance = await startInstance(root);
let failed = false;
try {
  failed = await run();
} catch (e) {
  console.error(e);
  failed = true;
} finally {
  instance.stop(failed);
  if (failed && instance.log) console.error(`server log: ${instance.log}`);
}
process.exit(failed ? 1 : 0);

async function run() {
  const admin = async (method, path, body) => {
    const response = await fetch(`${instance.admin}${path}`, {
      method,
      headers: { authorization: `Bearer ${instance.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json().catch(() => null);
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  // One client per locale (each caches its option lists in its language); the first one sets up the catalog.
  const clients = Object.fromEntries(LOCALES.map((lang) => [lang, createClient({ baseUrl: instance.http, lang })]));
  const client = clients[LOCALES[0]];
  let turn = 0;
  /** The locale of the next state (or change sequence): each in turn. */
  const nextLocale = () => LOCALES[(turn++) % LOCALES.length];

  // Generated templates, for categories and subcategories made for them.
  const generated = [];
  const subcategories = {};
  for (let i = 0; i < 6; i += 1) {
    const name = `Generated ${i} ${SEED}`;
    const made = await admin('POST', '/admin/options', { kind: 'category', name, has_engine: i % 3 === 0 });
    generated.push(made.option.id);
    if (i < 3) {
      const sub = `Generated sub ${i}`;
      await admin('POST', '/admin/options', { kind: 'subcategory', name: sub, parent_id: made.option.id });
      subcategories[name] = [sub];
    }
  }
  const set = templateSet(r, Object.keys(subcategories).concat([3, 4, 5].map((i) => `Generated ${i} ${SEED}`)), subcategories);
  // The step budget: conditions that walk a long list pass 20,000 steps somewhere; both sides must stop at the
  // same element.
  const budgetName = `Generated budget ${SEED}`;
  const budgetCategory = (await admin('POST', '/admin/options', { kind: 'category', name: budgetName })).option.id;
  // Each condition walks `tags` to its last element ('b'); each list repeats one element of a shape that makes
  // the walk cost steps and charges (copies of 64 units).
  const over = (each) => ({ some: [{ var: 'tags' }, each] });
  const isB = (x) => ({ '==': [x, 'b'] });
  const long = 'x'.repeat(130);
  const BUDGET = [
    ['found', over(isB({ var: '' })), 'a'],
    ['mapped', { in: ['b', { map: [{ var: 'tags' }, { cat: [{ var: '' }] }] }] }, 'a'],
    ['reduced', { '>': [{ reduce: [{ var: 'tags' }, { '+': [{ var: 'accumulator' }, 1] }, 0] }, 0] }, 'a'],
    ['missed', over(isB({ cat: [{ var: '' }, { missing: ['length', '0'] }] })), 'a'],
    ['missed_some', over(isB({ cat: [{ var: '' }, { missing_some: [1, ['length', 'nope']] }] })), 'a'],
    ['joined', over(isB({ var: '' })), [long]],
    ['catted', over({ '==': [{ cat: [{ var: '' }, '!'] }, 'b!'] }), long],
    ['merged', over({ in: ['b', { merge: [{ var: '' }, []] }] }), Array(64).fill('a')],
    ['cut', over(isB({ substr: [{ var: '' }, -1] })), `${long}a`],
    ['cut_back', over(isB({ substr: [{ cat: [{ var: '' }, long] }, 0, -130] })), `a${long}`],
  ];
  set.templates.push({ category: budgetName, blocks: [{ name: 'budget', fields: [
    { name: 'tags', type: 'multiselect', label: 'Tags', options: [{ value: 'a', label: 'A' }, { value: 'b', label: 'B' }] },
    ...BUDGET.map(([name, visibleIf]) => ({ name, type: 'text', label: name, visibleIf })),
  ] }] });
  // Options only, every one valid: submits that pass, naming options (country, city, brand, models) — in the
  // default language whatever the locale, on both sides.
  const namesName = `Generated names ${SEED}`;
  const namesCategory = (await admin('POST', '/admin/options', { kind: 'category', name: namesName })).option.id;
  set.templates.push({ category: namesName, blocks: [{ name: 'names', fields: [
    { name: 'country', type: 'select', label: translatedLabel('Country'), required: true, dataSource: { kind: 'country' } },
    { name: 'city', type: 'select', label: 'City', dataSource: { kind: 'city', parentField: 'country' } },
    { name: 'brand', type: 'select', label: 'Brand', dataSource: { kind: 'brand' } },
    { name: 'model', type: 'multiselect', label: 'Model', dataSource: { kind: 'model', parentField: 'brand' } },
  ] }] });
  await admin('POST', '/admin/templates', set).catch((e) => {
    throw new Error(`the generated templates were refused (a generator bug): ${e.message}`);
  });

  // Merged options: a brand merged into another (its models with it), and a model merged into another. Their old
  // ids stand for the survivors on the server; the runtime must resolve them the same way.
  const option = async (kind, name, parent) => (await admin('POST', '/admin/options', { kind, name, ...(parent ? { parent_id: parent } : {}) })).option.id;
  const mergedBrand = await option('brand', `Merged brand ${SEED}`);
  const survivorBrand = await option('brand', `Survivor brand ${SEED}`);
  const mergedModels = [await option('model', 'MX 1', mergedBrand), await option('model', 'MX 2', mergedBrand)];
  const survivorModels = [await option('model', 'SX 1', survivorBrand), await option('model', 'SX 2', survivorBrand)];
  await admin('POST', `/admin/options/${mergedBrand}/merge`, { into: survivorBrand });
  await admin('POST', `/admin/options/${survivorModels[1]}/merge`, { into: survivorModels[0] });

  // The catalog: every list a generated value may take an id from.
  const top = {};
  const children = {};
  for (const kind of ['category', 'brand', 'country']) top[kind] = (await client.listOptions(kind)).items.map((o) => o.id);
  for (const [kind, parentKind] of [['subcategory', 'category'], ['model', 'brand'], ['city', 'country']]) {
    for (const parent of top[parentKind]) {
      children[`${kind} ${parent}`] = (await client.listOptions(kind, parent)).items.map((o) => o.id);
    }
  }
  top.brand.push(mergedBrand);
  children[`model ${mergedBrand}`] = [...mergedModels, ...survivorModels];
  children[`model ${survivorBrand}`] = [...mergedModels, ...survivorModels];
  const catalog = {
    top: (kind) => top[kind] ?? [],
    children: (kind, parent) => children[`${kind} ${parent}`] ?? [],
    any: (kind) => top[kind] ?? Object.entries(children).filter(([k]) => k.startsWith(`${kind} `)).flatMap(([, ids]) => ids),
  };

  // Every form in every locale: each category's, each subcategory's. A locale the instance does not serve would
  // be answered in the default one and compare nothing new: refused here.
  const load = async (lang, category, sub = null) => {
    const form = await clients[lang].loadForm(category, sub);
    if (form.form.locale !== lang) throw new Error(`${lang} is not served (the form came in ${form.form.locale})`);
    if (typeof form.form.messages?.required !== 'string') throw new Error(`the form in ${lang} carries no messages`);
    form.lang = lang;
    form.client = clients[lang];
    return form;
  };
  const generatedForms = {};
  const bundledForms = {};
  for (const lang of LOCALES) {
    const forms = [];
    for (const category of top.category) {
      for (const sub of [null, ...catalog.children('subcategory', category)]) {
        const form = await load(lang, category, sub);
        form.generated = generated.includes(category);
        form.key = `${form.form.template} (${category}/${sub ?? '-'})`;
        forms.push(form);
      }
    }
    const own = (f) => f.form.category_id !== budgetCategory && f.form.category_id !== namesCategory;
    generatedForms[lang] = forms.filter((f) => f.generated && own(f));
    bundledForms[lang] = forms.filter((f) => !f.generated && own(f));
  }
  const pickForm = (lang) => (r.chance(0.5) ? r.pick(generatedForms[lang]) : r.pick(bundledForms[lang]));

  const counts = { states: 0, sequences: 0, carried: 0, submits: 0, refusals: 0, budget: [], locales: Object.fromEntries(LOCALES.map((l) => [l, 0])), named: Object.fromEntries(LOCALES.map((l) => [l, 0])),
    names: Object.fromEntries(LOCALES.map((l) => [l, 0])), translated: Object.fromEntries(LOCALES.map((l) => [l, 0])) };
  const used = new Set();
  const differences = [];

  async function compare(form, values, changed, from) {
    used.add(form.key);
    if (from) used.add(from.key);
    counts.states += 1;
    counts.locales[form.lang] += 1;
    if (from) counts.carried += 1;
    const { client } = form;
    const [server, browser] = await Promise.all([
      client.evaluateRemote(form, values, { changed, from }).catch(problem),
      client.evaluate(form, values, { changed, from }).catch(problem),
    ]);
    if (browser && browser.unchecked) delete browser.unchecked;
    if (server?.status) counts.refusals += 1;
    if (!isDeepStrictEqual(server, browser)) {
      differences.push({ lang: form.lang, form: form.key, from: from?.key, values, changed, server, browser });
    }
    if (!from && r.chance(0.15)) await compareSubmit(form, values);
    return server?.status ? null : server;
  }

  async function compareSubmit(form, values) {
    const { client } = form;
    counts.submits += 1;
    const [submitted, checked] = await Promise.all([
      client.submit(form, values).then((s) => ({ values: s.values }), problem),
      client.check(form, values).then((c) => (c.evaluation.errors.length > 0 ? { status: 422, code: 'validation_failed', errors: c.evaluation.errors } : { values: c.values }), problem),
    ]);
    counts.named[form.lang] += Object.values(submitted.values ?? {}).flat().filter((v) => typeof v?.name === 'string').length;
    if (!isDeepStrictEqual(submitted, checked)) {
      differences.push({ submit: true, lang: form.lang, form: form.key, values, server: submitted, browser: checked });
    }
  }


  function randomValues(form, state = {}) {
    const values = {};
    for (const cf of form.fields) {
      if (r.chance(0.55)) values[cf.field.name] = value(r, cf.field, catalog, { ...state, ...values });
    }
    for (const key of unknownKeys(r)) if (r.chance(0.3)) values[key] = r.pick([1, 'x', null]);
    if (r.chance(0.03)) for (let i = 0; i < 8; i += 1) values[`unknown_${i}`] = i;
    return values;
  }

  function randomChanged(form, values) {
    const names = form.fields.map((cf) => cf.field.name);
    const k = r.next();
    if (k < 0.3) return undefined;
    if (k < 0.5) return r.pick(names);
    if (k < 0.52) return 'no_such_field';
    return r.some(Object.keys(values).filter((n) => names.includes(n)), 0.4).concat(r.chance(0.5) ? [r.pick(names)] : []);
  }

  async function oneState() {
    const lang = nextLocale();
    const form = pickForm(lang);
    const values = randomValues(form);
    const from = r.chance(0.25) ? pickForm(lang) : undefined;
    await compare(form, values, randomChanged(form, values), from);
  }

  async function sequence() {
    counts.sequences += 1;
    const lang = nextLocale();
    let form = pickForm(lang);
    let values = {};
    let last = await compare(form, values, undefined);
    const steps = 5 + r.int(15);
    for (let s = 0; s < steps; s += 1) {
      if (r.chance(0.08)) {
        const next = pickForm(lang);
        last = await compare(next, values, undefined, form);
        if (last) values = { ...last.carried_over.values };
        form = next;
        continue;
      }
      const visible = last?.visible ?? form.fields.map((cf) => cf.field.name);
      const name = r.chance(0.9) && visible.length > 0 ? r.pick(visible) : r.pick(form.fields).field.name;
      const field = form.field(name);
      if (r.chance(0.1)) delete values[name];
      else values[name] = value(r, field, catalog, values);
      last = await compare(form, values, r.chance(0.9) ? [name] : name);
      if (last) for (const reset of last.reset) delete values[reset];
    }
  }

  // Where each budget condition runs out of steps, both sides must agree (each condition in the next locale).
  const budgetForms = {};
  for (const lang of LOCALES) {
    budgetForms[lang] = await load(lang, budgetCategory);
    budgetForms[lang].key = budgetName;
    budgetForms[lang].generated = true;
  }
  for (const [field, , element] of BUDGET) {
    const budgetForm = budgetForms[nextLocale()];
    const tags = (n) => ({ tags: [...Array(n).fill(element), 'b'] });
    // Where the browser runs out of steps (bisection, no request), then the server asked there and one
    // element either side: the same answers there mean the same boundary. Bodies stay under 1 MiB.
    let [shown, hidden] = [0, Math.min(20_001, Math.floor(1_000_000 / (JSON.stringify(element).length + 1)))];
    const visibleHere = async (n) => (await budgetForm.client.evaluate(budgetForm, tags(n))).visible.includes(field);
    if (await visibleHere(hidden)) throw new Error(`${field}: the step budget is not reached with ${hidden} elements (a generator bug)`);
    while (hidden - shown > 1) {
      const mid = Math.floor((shown + hidden) / 2);
      if (await visibleHere(mid)) shown = mid;
      else hidden = mid;
    }
    counts.budget.push(`${field} ${hidden}`);
    for (const n of [shown, hidden, hidden + 1]) await compare(budgetForm, tags(n), undefined);
  }

  // Every pairing of the merged and surviving brands and models, on a form with a brand → model cascade.
  const cascadeOf = (lang) => bundledForms[lang].find((f) => f.field('brand')?.dataSource && f.field('model')?.dataSource?.parentField === 'brand');
  const cascade = cascadeOf(LOCALES[0]);
  for (const brand of [mergedBrand, survivorBrand]) {
    for (const model of [...mergedModels, ...survivorModels]) {
      for (const changed of [undefined, ['brand'], ['model']]) await compare(cascadeOf(nextLocale()), { brand, model }, changed);
    }
  }
  if (process.env.FORMS_SHOW_MERGED) {
    console.log(JSON.stringify(await client.evaluateRemote(cascade, { brand: mergedBrand, model: mergedModels[0] })));
  }

  // Option names in each locale: what the package resolves an id to (its lists in that locale, merges followed)
  // against the server's look-up of the id in that locale — every category, subcategory and country, the cities
  // of a few countries, the merged and surviving brands and models. (Submits name options in the default
  // language, language-neutral; the states above compare those.)
  const english = new Map();
  const named = [
    ...top.category.map((id) => ({ list: { kind: 'category', parent_id: null }, id })),
    ...top.category.flatMap((p) => catalog.children('subcategory', p).map((id) => ({ list: { kind: 'subcategory', parent_id: p }, id }))),
    ...top.country.map((id) => ({ list: { kind: 'country', parent_id: null }, id })),
    ...top.country.slice(0, 4).flatMap((p) => catalog.children('city', p).map((id) => ({ list: { kind: 'city', parent_id: p }, id }))),
    ...[mergedBrand, survivorBrand].map((id) => ({ list: { kind: 'brand', parent_id: null }, id })),
    ...[...mergedModels, ...survivorModels].map((id) => ({ list: { kind: 'model', parent_id: survivorBrand }, id })),
  ];
  for (const lang of LOCALES) {
    const c = clients[lang];
    for (const check of named) {
      const [server, browser] = await Promise.all([
        c.resolveOption(check.list.kind, check.id).then((o) => (o ? { id: o.id, name: o.name } : null)),
        c.lookUp(check),
      ]);
      counts.names[lang] += 1;
      if (lang === LOCALES[0]) english.set(check.id, server?.name);
      else if (server && server.name !== english.get(check.id)) counts.translated[lang] += 1;
      if (!isDeepStrictEqual(server, browser)) differences.push({ lang, option: check, server, browser });
    }
  }

  // Submits that pass, naming options, in every locale.
  for (const lang of LOCALES) {
    const form = await load(lang, namesCategory);
    form.key = namesName;
    for (let i = 0; i < 25; i += 1) {
      const country = r.pick(top.country);
      const cities = catalog.children('city', country);
      const brand = r.pick(top.brand);
      const models = catalog.children('model', brand);
      const values = { country, brand };
      if (cities.length > 0 && r.chance(0.8)) values.city = r.pick(cities);
      if (models.length > 0) values.model = r.some(models, 0.5);
      used.add(form.key);
      await compareSubmit(form, values);
    }
  }

  async function worker() {
    while (counts.states < STATES) {
      if (r.chance(0.5)) await sequence();
      else await oneState();
    }
  }
  await Promise.all(Array.from({ length: WORKERS }, worker));

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`forms differential: seed ${SEED}; ${generatedForms[LOCALES[0]].length} generated and ${bundledForms[LOCALES[0]].length} bundled forms; `
    + `${counts.sequences} change sequences, ${counts.carried} carry-overs, ${counts.submits} submits, ${counts.refusals} refusals compared; `
    + `step budget reached at list lengths ${counts.budget.join(', ')}; ${seconds} s`);
  console.log(`forms differential: per locale ${LOCALES.map((l) => `${l} ${counts.locales[l]} states, ${counts.names[l]} option names${l === LOCALES[0] ? '' : ` (${counts.translated[l]} other than in ${LOCALES[0]})`}, ${counts.named[l]} in submits`).join(', ')}`);
  console.log(`forms differential: ${counts.states} states, ${used.size} templates, ${differences.length} differences`);
  if (differences.length > 0) {
    for (const d of differences.slice(0, SHOW)) console.error(JSON.stringify(d, null, 1));
    const out = join(root, 'target', 'forms-differential.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify({ seed: SEED, differences }, null, 1));
    console.error(`all differences: ${out}; reproduce with FORMS_SEED=${SEED} FORMS_WORKERS=1 (one worker: the same draws in the same order)`);
    return true;
  }
  return false;
}

function problem(e) {
  if (e instanceof FormsError) return { status: e.status, code: e.code, errors: e.problem?.errors ?? null };
  throw e;
}

// Forms: the listing form of any category and subcategory, in any locale, filled in here. Every change is
// evaluated twice — in this browser by the @gantry/forms runtime (clients/js, the modules served beside this
// one, conditions on the vendored json-logic-js) and by the server's evaluate — and the two answers are shown
// side by side, each difference marked. The public routes are reached through their admin-listener copies
// (`/admin/forms/v1/…`, the admin token): the console's CSP lets it call nothing else.

import * as api from './api.js';
import { h, replace, section, table, field, nextId } from './dom.js';
import { problemBox, badge } from './ui.js';
import { PARTS, describe, differences, parseInput } from './forms-compare.js';

const LOCALES = [['', 'Default (the server\'s)'], ['en', 'English (en)'], ['de', 'Deutsch (de)'], ['pl', 'Polski (pl)'], ['ru', 'Русский (ru)']];

let runtime = null;

/** json-logic-js's browser build (a classic script: it sets globalThis.jsonLogic), then the runtime. */
function loadRuntime() {
  runtime ??= new Promise((resolve, reject) => {
    if (globalThis.jsonLogic) {
      resolve();
      return;
    }
    const script = document.createElement('script');
    script.src = '/console/assets/json-logic.js';
    script.addEventListener('load', () => resolve());
    script.addEventListener('error', () => reject(new Error('json-logic.js did not load')));
    document.head.append(script);
  }).then(() => import('./browser.js'));
  return runtime;
}

export function render(container) {
  let stopped = false;
  let client = null;
  let session = null;
  let remote = null;
  let lastFocus = null;

  const category = field('Category', { tag: 'select' }, [['', 'Loading…']]);
  const subcategory = field('Subcategory', { tag: 'select' }, [['', 'The category\'s own form']]);
  const locale = field('Locale', { tag: 'select', hint: 'Sent as ?lang= with every request.' }, LOCALES);
  const show = h('button', { type: 'submit' }, 'Show form');
  const chooser = h('form', { className: 'card' }, category.wrap, subcategory.wrap, locale.wrap, show);
  const problemSlot = h('div');
  const summary = h('p', { role: 'status' });
  const formSlot = h('div');
  const compareSlot = h('div');
  replace(container,
    h('h1', {}, 'Forms'),
    h('p', {}, 'Fill in a listing form: what the browser runtime computes and what the server answers, side by side.'),
    chooser, problemSlot,
    section('Comparison', summary, compareSlot),
    section('Form', formSlot));

  const fail = (err) => replace(problemSlot, problemBox(err));

  async function loadCategories() {
    try {
      const page = await api.get('/admin/forms/v1/options/category?limit=500');
      if (stopped) return;
      replace(category.input, h('option', { value: '' }, 'Choose a category'),
        page.items.map((o) => h('option', { value: o.id }, o.name)));
    } catch (err) {
      fail(err);
    }
  }

  category.input.addEventListener('change', async () => {
    replace(subcategory.input, h('option', { value: '' }, 'The category\'s own form'));
    if (!category.input.value) return;
    try {
      const page = await api.get(`/admin/forms/v1/options/subcategory${api.query({ parent_id: category.input.value, limit: 500 })}`);
      if (stopped) return;
      for (const o of page.items) subcategory.input.append(h('option', { value: o.id }, o.name));
    } catch (err) {
      fail(err);
    }
  });

  chooser.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(problemSlot);
    if (!category.input.value) {
      fail({ title: 'Choose a category', message: 'A form belongs to a category.' });
      return;
    }
    show.disabled = true;
    try {
      const { createClient, openForm } = await loadRuntime();
      const lang = locale.input.value || null;
      if (!client) {
        client = createClient({ baseUrl: `${location.origin}/admin/forms`, token: () => api.token(), lang });
      } else if (client.lang !== lang) {
        client.setLang(lang);
      }
      const [categoryId, subcategoryId] = [category.input.value, subcategory.input.value || null];
      if (!session) {
        session = await openForm(client, { categoryId, subcategoryId, onChange: () => drawForm() });
        remote = await client.evaluateRemote(session.form, {}, {}).catch((err) => ({ failed: err }));
      } else {
        const previous = session.form;
        const values = { ...session.values };
        const next = await client.loadForm(categoryId, subcategoryId);
        const answer = client.evaluateRemote(next, values, { from: previous }).catch((err) => ({ failed: err }));
        await session.changeCategory(categoryId, subcategoryId);
        remote = await answer;
      }
      drawAll();
    } catch (err) {
      fail(err);
    } finally {
      show.disabled = false;
    }
  });

  async function change(name, value) {
    const values = { ...session.values };
    if (value === undefined) delete values[name];
    else values[name] = value;
    lastFocus = name;
    try {
      const answer = client.evaluateRemote(session.form, values, { changed: [name] }).catch((err) => ({ failed: err }));
      await session.set(name, value);
      remote = await answer;
      drawAll();
    } catch (err) {
      fail(err);
    }
  }

  function drawAll() {
    if (stopped) return;
    drawComparison();
    drawForm();
  }

  function drawComparison() {
    const browser = session.evaluation;
    if (remote?.failed) {
      replace(summary, badge('differs', 'bad'), ' The server refused the evaluation.');
      replace(compareSlot, problemBox(remote.failed));
      return;
    }
    const differing = differences(browser, remote);
    if (differing.length === 0) replace(summary, badge('same', 'ok'), ' No difference between the browser and the server.');
    else replace(summary, badge('differs', 'bad'), ` Differences: ${differing.map((k) => PARTS.find(([p]) => p === k)[1]).join(', ')}.`);
    const lines = (key, value) => h('ul', { className: 'plain' }, describe(key, value).map((t) => h('li', {}, t)));
    replace(compareSlot, table('The browser\'s evaluation and the server\'s', ['Part', 'In the browser', 'Server', 'Same'],
      PARTS.filter(([key]) => browser?.[key] !== undefined || remote?.[key] !== undefined).map(([key, title]) => h('tr', {},
        h('th', { scope: 'row' }, title),
        h('td', {}, lines(key, browser?.[key])),
        h('td', {}, lines(key, remote?.[key])),
        h('td', {}, differing.includes(key) ? badge('differs', 'bad') : badge('same', 'ok'))))));
  }

  function drawForm() {
    if (stopped || !session?.evaluation) return;
    const { form, evaluation } = session;
    const blocks = form.form.blocks.map((block) => {
      const fields = block.fields.filter((f) => evaluation.visible.includes(f.name)).map(control);
      if (fields.length === 0) return null;
      return h('fieldset', { className: 'card' }, h('legend', {}, block.label ?? block.name ?? ''), fields);
    });
    replace(formSlot, h('p', {}, `${form.form.template} · version ${form.form.version}`), blocks);
    if (lastFocus) document.getElementById(`form-field-${lastFocus}`)?.focus();
  }

  function control(f) {
    const id = `form-field-${f.name}`;
    const error = session.errorOf(f.name);
    const errorId = error ? nextId('err') : null;
    const required = session.isRequired(f.name);
    const value = session.values[f.name];
    const label = h('label', { for: id }, f.label, required ? ' (required)' : '');
    let input;
    if (f.type === 'select' || f.type === 'multiselect' || f.type === 'boolean') {
      const options = f.type === 'boolean'
        ? [{ id: 'true', name: 'Yes' }, { id: 'false', name: 'No' }]
        : session.optionsOf(f.name) ?? [];
      const multiple = f.type === 'multiselect';
      const chosen = new Set((Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String));
      input = h('select', { id, multiple },
        multiple ? null : h('option', { value: '' }, session.optionsOf(f.name) === null && f.type !== 'boolean' ? 'Loading or waiting for its parent…' : '—'),
        options.map((o) => h('option', { value: o.id, selected: chosen.has(String(o.id)) }, o.name)));
      input.addEventListener('change', () => {
        const raw = multiple ? [...input.selectedOptions].map((o) => o.value) : input.value;
        change(f.name, parseInput(f.type, raw));
      });
    } else {
      input = h('input', { id, type: 'text', value: value === undefined ? '' : String(value), inputmode: f.type === 'text' ? false : 'decimal', autocomplete: 'off' });
      input.addEventListener('change', () => change(f.name, parseInput(f.type, input.value)));
    }
    if (errorId) input.setAttribute('aria-describedby', errorId);
    if (required) input.setAttribute('aria-required', 'true');
    return h('div', { className: 'field' }, label, input, error ? h('p', { className: 'hint', id: errorId }, `${error.code}: ${error.message}`) : null);
  }

  loadCategories();
  return () => {
    stopped = true;
    session?.close();
  };
}

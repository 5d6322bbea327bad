// Templates: the listing-form template set in use with each template's status (ok, or degraded and why), export
// as a JSON file, and import, where the server's check runs before anything is stored and its problems are
// shown. (The form preview arrives with the forms issue.)

import * as api from './api.js';
import { h, replace, section, table, field } from './dom.js';
import { plural } from './format.js';
import { problemBox, notice, badge, run } from './ui.js';

export function render(container) {
  const statusSlot = h('div');
  const exportResult = h('div');
  let exported = null;

  const exportButton = h('button', { type: 'button' }, 'Export');
  exportButton.addEventListener('click', () => {
    if (!exported) return;
    const blob = new Blob([`${JSON.stringify(exported.set, null, 2)}\n`], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const link = h('a', { href: url, download: `gantry-templates-v${exported.version}.json` }, 'download');
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    replace(exportResult, notice(`Exported version ${exported.version} as gantry-templates-v${exported.version}.json.`));
  });

  const setField = field('Template set (JSON)', { tag: 'textarea', spellcheck: 'false', hint: 'The "set" of an export, edited. Checked against the catalog before anything is stored.' });
  const replaceField = h('input', { type: 'checkbox', id: 'templates-replace' });
  const importButton = h('button', { type: 'submit' }, 'Import');
  const importResult = h('div');
  const importForm = h('form', { className: 'card' }, setField.wrap,
    h('div', { className: 'check' }, replaceField, h('label', { for: 'templates-replace' }, 'Replace the stored set (instead of merging)')),
    importButton, importResult);
  importForm.addEventListener('submit', (event) => {
    event.preventDefault();
    let set;
    try {
      set = JSON.parse(setField.input.value);
    } catch (err) {
      replace(importResult, problemBox({ title: 'Not JSON', message: err.message }));
      return;
    }
    const path = `/admin/templates${api.query({ replace: replaceField.checked ? 'true' : '' })}`;
    run(importButton, importResult, () => api.post(path, set), (answer) => {
      load();
      return notice(`Stored as version ${answer.version}${answer.templates !== undefined ? ` (${plural(answer.templates, 'template')})` : ''}.`);
    });
  });

  async function load() {
    try {
      exported = await api.get('/admin/templates');
      const degraded = exported.status.filter((t) => t.status !== 'ok').length;
      replace(statusSlot,
        h('p', { role: 'status' }, `Version ${exported.version} (${exported.origin}): ${plural(exported.status.length, 'template')}, ${degraded} degraded.`),
        table('Templates in use', ['Template', 'Status', 'Why'], exported.status.map((t) => h('tr', {},
          h('th', { scope: 'row' }, t.template),
          h('td', {}, badge(t.status, t.status === 'ok' ? 'ok' : 'bad')),
          h('td', {}, (t.problems ?? []).length ? h('ul', {}, t.problems.map((p) => h('li', {}, `${p.field ? `${p.field}: ` : ''}${p.message}`))) : '—')))));
    } catch (err) {
      if (err.status !== 401) replace(statusSlot, problemBox(err));
    }
  }

  replace(container,
    h('h1', {}, 'Templates'),
    section('The set in use', statusSlot),
    section('Export', h('p', {}, 'Downloads the set in use as JSON, to edit and import again.'), exportButton, exportResult),
    section('Import', importForm));
  load();
  return null;
}

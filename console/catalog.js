// Catalog: the moderators' review queue (pending options, recent creations with their creator and the
// creator's account age, near-duplicate groups by identity or near match from GET /admin/options/duplicates),
// the moderation actions (Approve, Hide, Unhide, Rename, Merge choosing the survivor by name, the
// engine flag), bulk approve or hide of a selection with its progress, and the audit log. Option names are
// user-supplied: they are only ever text here.

import * as api from './api.js';
import { h, replace, section, table, field } from './dom.js';
import { instant, shortId, plural, cell } from './format.js';
import { creatorText, survivorsFor } from './review.js';
import { problemBox, notice, badge, run } from './ui.js';

const LIMIT = 1000;
const SHOWN = 100;
/** The near-duplicate groups are looked for around the users' options among this many of the newest. */
const AROUND = 200;

export function render(container) {
  let options = [];
  let groups = [];
  const selected = new Set();
  const show = field('Show', { tag: 'select' }, [
    ['users', 'Created by users'],
    ['pending', 'Pending approval'],
    ['hidden', 'Hidden'],
    ['all', 'All recent, the seed included'],
  ]);
  show.input.addEventListener('change', () => draw());
  const approveSelected = h('button', { type: 'button' }, 'Approve selected');
  const hideSelected = h('button', { type: 'button', className: 'danger' }, 'Hide selected');
  const bulkResult = h('div', { 'aria-live': 'polite' });
  const listSlot = h('div');
  const groupsSlot = h('div');
  const editorSlot = h('div', { tabindex: '-1' });
  const auditSlot = h('div');

  approveSelected.addEventListener('click', () => bulk('approve', 'Approved', approveSelected));
  hideSelected.addEventListener('click', () => bulk('hide', 'Hidden', hideSelected));

  async function bulk(action, past, button) {
    const ids = [...selected];
    if (!ids.length) {
      replace(bulkResult, problemBox({ title: 'Nothing selected', message: 'Select options with their checkboxes first.' }));
      return;
    }
    button.disabled = true;
    const failures = [];
    let done = 0;
    for (const id of ids) {
      try {
        await api.post(`/admin/options/${id}/${action}`, {});
        done += 1;
      } catch (err) {
        if (err.status === 401) return;
        failures.push(err);
      }
      replace(bulkResult, h('p', { role: 'status' }, `${past} ${done} of ${ids.length}…`));
    }
    button.disabled = false;
    selected.clear();
    replace(bulkResult, notice(`${past} ${done} of ${plural(ids.length, 'option')}.`), failures.map(problemBox));
    reload();
  }

  const known = (id) => options.find((o) => o.id === id) ?? groups.flatMap((g) => g.options).find((o) => o.id === id);
  const nameOf = (id) => known(id)?.name ?? shortId(id);
  const groupOf = (o) => groups.find((g) => g.options.some((x) => x.id === o.id))?.options ?? [];

  function creatorCell(o) {
    return h('td', {}, creatorText(o.creator), o.creator?.new_account ? [' ', badge('new account', 'warn')] : null);
  }

  function stateBadges(o) {
    return [o.pending ? badge('pending', 'warn') : null, o.hidden ? badge('hidden', 'bad') : null,
      !o.pending && !o.hidden ? badge('listed', 'ok') : null];
  }

  function row(o) {
    const check = h('input', { type: 'checkbox', 'aria-label': `Select ${o.name}`, checked: selected.has(o.id) });
    check.addEventListener('change', () => (check.checked ? selected.add(o.id) : selected.delete(o.id)));
    const result = h('div');
    const act = (label, action, tone = '') => {
      const b = h('button', { type: 'button', className: tone }, label);
      b.addEventListener('click', () => run(b, result, action, () => {
        reload();
        return notice(`${label}: done.`);
      }));
      return b;
    };
    const rename = h('button', { type: 'button', className: 'quiet', onclick: () => openRename(o) }, 'Rename');
    const merge = h('button', { type: 'button', className: 'quiet', onclick: () => openMerge(o) }, 'Merge');
    let engine = null;
    if (o.kind === 'category') {
      engine = h('input', { type: 'checkbox', 'aria-label': `Has engine: ${o.name}`, checked: Boolean(o.has_engine) });
      engine.addEventListener('change', () => run(engine, result, () => api.patch(`/admin/options/${o.id}`, { has_engine: engine.checked }),
        () => notice('Engine flag saved.')).then((answer) => {
        if (answer === undefined) engine.checked = !engine.checked;
      }));
    }
    return h('tr', {},
      h('td', {}, check),
      h('th', { scope: 'row' }, o.name),
      h('td', {}, o.kind),
      h('td', {}, stateBadges(o)),
      h('td', {}, instant(o.created_at)),
      creatorCell(o),
      h('td', {}, engine ?? '—'),
      h('td', {}, h('div', { className: 'actions' },
        o.pending ? act('Approve', () => api.post(`/admin/options/${o.id}/approve`, {})) : null,
        o.hidden ? act('Unhide', () => api.post(`/admin/options/${o.id}/unhide`, {})) : act('Hide', () => api.post(`/admin/options/${o.id}/hide`, {}), 'danger'),
        rename, merge), result));
  }

  function openRename(o) {
    const name = field('New name', { value: o.name, autocomplete: 'off' });
    const save = h('button', { type: 'submit' }, 'Save name');
    const result = h('div');
    const form = h('form', { className: 'card', 'aria-label': `Rename ${o.name}` }, h('h3', {}, 'Rename ', h('q', {}, o.name)), name.wrap, save, result);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      run(save, result, () => api.patch(`/admin/options/${o.id}`, { name: name.input.value }), (answer) => {
        reload();
        return notice(`Renamed to ${answer?.option?.name ?? name.input.value}.`);
      });
    });
    replace(editorSlot, form);
    name.input.focus();
  }

  function openMerge(o) {
    const candidates = survivorsFor(o, options.filter((c) => !c.hidden), groupOf(o));
    if (!candidates.length) {
      replace(editorSlot, problemBox({ title: 'Nothing to merge into', message: `No other ${o.kind} is listed.` }));
      return;
    }
    const survivor = field('Survivor', { tag: 'select', hint: 'The option that stays: the merged one\'s id and name resolve to it from now on.' },
      candidates.map((c) => [c.id, `${c.name}${c.parent_id ? ` (under ${nameOf(c.parent_id)})` : ''}${c.near ? ' · near duplicate' : ''}`]));
    const confirm = h('button', { type: 'submit', className: 'danger' }, 'Merge into the survivor');
    const result = h('div');
    const form = h('form', { className: 'card', 'aria-label': `Merge ${o.name}` }, h('h3', {}, 'Merge ', h('q', {}, o.name), ' into another option'), survivor.wrap, confirm, result);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const into = survivor.input.value;
      run(confirm, result, () => api.post(`/admin/options/${o.id}/merge`, { into }), () => {
        reload();
        return notice(`Merged “${o.name}” into “${nameOf(into)}”.`);
      });
    });
    replace(editorSlot, form);
    survivor.input.focus();
  }

  function draw() {
    const filter = show.input.value;
    const keep = {
      users: (o) => o.created_by !== null,
      pending: (o) => o.pending,
      hidden: (o) => o.hidden,
      all: () => true,
    }[filter] ?? (() => true);
    const matching = options.filter(keep);
    const visible = matching.slice(0, SHOWN);
    replace(listSlot, visible.length
      ? [table('Options, newest first', ['Select', 'Name', 'Kind', 'State', 'Created', 'Creator', 'Has engine', 'Actions'], visible.map(row)),
        matching.length > SHOWN ? h('p', { className: 'hint' }, `The newest ${SHOWN} of ${matching.length} shown.`) : null]
      : h('p', {}, 'No option to show.'));
  }

  function drawGroups() {
    const rows = groups.flatMap((g, i) => g.options.map((o) => h('tr', {},
      h('td', {}, `${i + 1}`),
      h('td', {}, badge(g.match === 'identity' ? 'same identity' : 'near match', g.match === 'identity' ? 'bad' : 'warn')),
      h('th', { scope: 'row' }, o.name),
      h('td', {}, o.kind),
      h('td', {}, stateBadges(o)),
      creatorCell(o),
      h('td', {}, instant(o.created_at)),
      h('td', {}, h('button', { type: 'button', className: 'quiet', onclick: () => openMerge(o) }, 'Merge')))));
    replace(groupsSlot, rows.length
      ? table('Near-duplicate groups, newest first', ['Group', 'Match', 'Name', 'Kind', 'State', 'Creator', 'Created', 'Action'], rows)
      : h('p', {}, `No near duplicates around the options users created among the newest ${AROUND}.`));
  }

  async function loadAudit() {
    try {
      const { items } = await api.get(`/admin/options/audit${api.query({ limit: 100 })}`);
      replace(auditSlot, items.length
        ? table('Moderation audit log, newest first', ['When', 'Actor', 'Action', 'Option', 'Detail'], items.map((e) => h('tr', {},
          h('td', {}, instant(e.at)), h('td', {}, e.actor), h('td', {}, e.action),
          h('td', { className: 'mono', title: e.option_id }, shortId(e.option_id)), h('td', {}, cell(e.detail)))))
        : h('p', {}, 'No moderation yet.'));
    } catch (err) {
      if (err.status !== 401) replace(auditSlot, problemBox(err));
    }
  }

  async function reload() {
    try {
      const [recent, duplicates] = await Promise.all([
        api.get(`/admin/options${api.query({ limit: LIMIT })}`),
        api.get(`/admin/options/duplicates${api.query({ limit: AROUND })}`),
      ]);
      options = recent.items;
      groups = duplicates.groups;
      draw();
      drawGroups();
    } catch (err) {
      if (err.status !== 401) replace(listSlot, problemBox(err));
    }
    loadAudit();
  }

  replace(container,
    h('h1', {}, 'Catalog'),
    section('Review queue',
      h('div', { className: 'actions' }, show.wrap, approveSelected, hideSelected),
      bulkResult, listSlot),
    section('Near-duplicate groups', groupsSlot),
    section('Rename or merge', editorSlot.childNodes.length ? editorSlot : [h('p', {}, 'Choose Rename or Merge on an option.'), editorSlot]),
    section('Audit log', auditSlot));
  reload();
  return null;
}

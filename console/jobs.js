// Jobs: counts per queue, kind and state (every stored job: GET /admin/jobs/counts), the list filtered by state and kind, one job's detail with its attempts and
// error, and the operator's Retry and Cancel.

import * as api from './api.js';
import { h, replace, section, table, field } from './dom.js';
import { instant, shortId, cell, plural, countRows } from './format.js';
import { problemBox, notice, badge, run } from './ui.js';

const STATES = ['scheduled', 'available', 'running', 'retryable', 'completed', 'discarded', 'cancelled'];

const tone = (state) => ({ completed: 'ok', discarded: 'bad', retryable: 'warn', running: 'warn' }[state] ?? 'muted');

export function render(container) {
  const countsSlot = h('div');
  const listSlot = h('div');
  const detailSlot = h('div', { tabindex: '-1' });
  const state = field('State', { tag: 'select' }, [['', 'Any state'], ...STATES.map((s) => [s, s])]);
  const kind = field('Kind', { autocomplete: 'off', spellcheck: 'false', hint: 'e.g. uploads.photo, secrets.rotate' });
  const filterButton = h('button', { type: 'submit' }, 'Filter');
  const filterForm = h('form', { className: 'card' }, h('div', { className: 'grid' }, state.wrap, kind.wrap), filterButton);
  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    loadList();
  });

  async function loadCounts() {
    try {
      const { counts, total } = await api.get('/admin/jobs/counts');
      const rows = countRows(counts);
      replace(countsSlot, h('p', {}, `${plural(total, 'job')} stored, per queue, kind and state (finished jobs until they are pruned).`),
        rows.length ? table('Jobs per queue, kind and state', ['Queue', 'Kind', ...STATES, 'All'], rows.map((r) =>
          h('tr', {}, h('td', {}, r.queue), h('td', {}, r.kind), STATES.map((s) => h('td', {}, r.states[s])), h('td', {}, r.total))))
          : h('p', {}, 'No jobs yet.'));
    } catch (err) {
      if (err.status !== 401) replace(countsSlot, problemBox(err));
    }
  }

  async function loadList() {
    try {
      const { jobs } = await api.get(`/admin/jobs${api.query({ state: state.input.value, kind: kind.input.value.trim(), limit: 100 })}`);
      replace(listSlot, jobs.length
        ? table('Jobs, newest first', ['Created', 'Kind', 'Queue', 'State', 'Attempts', 'Error', 'Job'], jobs.map((job) => h('tr', {},
          h('td', {}, instant(job.created_at)),
          h('td', {}, job.kind),
          h('td', {}, job.queue ?? '—'),
          h('td', {}, badge(job.state, tone(job.state))),
          h('td', {}, `${job.attempt ?? 0} of ${job.max_attempts ?? '—'}`),
          h('td', {}, cell(job.error)),
          h('td', {}, h('button', { type: 'button', className: 'quiet', onclick: () => showJob(job.id) }, `Open ${shortId(job.id)}`)))))
        : h('p', {}, 'No job matches.'));
    } catch (err) {
      if (err.status !== 401) replace(listSlot, problemBox(err));
    }
  }

  async function showJob(id) {
    let job;
    try {
      job = await api.get(`/admin/jobs/${id}`);
    } catch (err) {
      if (err.status !== 401) replace(detailSlot, problemBox(err));
      return null;
    }
    const result = h('div');
    const after = (verb) => () => {
      loadCounts();
      loadList();
      showJob(id).then((slot) => slot && replace(slot, notice(`Job ${shortId(id)} ${verb}.`)));
    };
    const retry = h('button', { type: 'button' }, 'Retry');
    retry.addEventListener('click', () => run(retry, result, () => api.post(`/admin/jobs/${id}/retry`), after('retried: it is due now')));
    const cancel = h('button', { type: 'button', className: 'danger' }, 'Cancel');
    cancel.addEventListener('click', () => run(cancel, result, () => api.post(`/admin/jobs/${id}/cancel`), after('cancelled')));
    replace(detailSlot, h('article', { className: 'card', 'aria-labelledby': `job-${id}` },
      h('h3', { id: `job-${id}` }, `Job ${id}`),
      h('dl', {},
        h('dt', {}, 'Kind'), h('dd', {}, job.kind),
        h('dt', {}, 'Queue'), h('dd', {}, cell(job.queue)),
        h('dt', {}, 'State'), h('dd', {}, badge(job.state, tone(job.state))),
        h('dt', {}, 'Attempts'), h('dd', {}, `${job.attempt ?? 0} of ${job.max_attempts ?? '—'}`),
        h('dt', {}, 'Created'), h('dd', {}, instant(job.created_at)),
        h('dt', {}, 'Due'), h('dd', {}, instant(job.run_at)),
        h('dt', {}, 'Error'), h('dd', {}, cell(job.error))),
      h('div', { className: 'actions' }, retry, cancel),
      result,
      (job.attempts ?? []).length
        ? table('Attempts', ['Attempt', 'Instance', 'Started', 'Finished', 'Outcome', 'Error'], job.attempts.map((a) => h('tr', {},
          h('td', {}, a.attempt), h('td', { className: 'mono' }, shortId(a.instance_id)), h('td', {}, instant(a.started_at)),
          h('td', {}, instant(a.finished_at)), h('td', {}, badge(a.outcome, a.outcome === 'completed' ? 'ok' : 'bad')), h('td', {}, cell(a.error)))))
        : h('p', {}, 'No finished attempt yet.'),
      job.progress ? [h('h4', {}, 'Progress'), h('pre', {}, JSON.stringify(job.progress, null, 2))] : null,
      job.args ? [h('h4', {}, 'Arguments'), h('pre', {}, JSON.stringify(job.args, null, 2))] : null));
    detailSlot.focus();
    return result;
  }

  replace(container,
    h('h1', {}, 'Jobs'),
    section('Counts', countsSlot),
    section('Find jobs', filterForm, listSlot),
    section('Job detail', detailSlot));
  loadCounts();
  loadList();
  return null;
}

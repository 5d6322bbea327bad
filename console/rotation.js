// Rotation: the seed runbook from one page — validate candidate values (never stored), start a rotation or the
// rollback, follow the job's steps live as it reports them, then read the evidence.

import * as api from './api.js';
import { h, replace, section, table, field } from './dom.js';
import { instant, shortId, cell } from './format.js';
import { problemBox, notice, badge, run } from './ui.js';

const SECRETS = ['JWT_SECRET', 'UPLOAD_GUEST_TOKEN_SECRET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'GANTRY_ADMIN_TOKEN'];
const POLL_MS = 500;
const FINAL = new Set(['completed', 'discarded', 'cancelled']);

export function render(container) {
  let stopped = false;
  let pollTimer = null;

  // 1. Validate.
  const candidates = SECRETS.map((name) => [name, field(name, { type: 'password', autocomplete: 'off', spellcheck: 'false' })]);
  const validateResult = h('div');
  const validateButton = h('button', { type: 'submit' }, 'Validate');
  const validateForm = h('form', { className: 'card' },
    h('p', {}, 'Checks new values against the rules (length, distinctness, entropy) without storing them. Only the filled fields are checked.'),
    h('div', { className: 'grid' }, candidates.map(([, f]) => f.wrap)),
    validateButton, validateResult);
  validateForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = {};
    for (const [name, f] of candidates) if (f.input.value) body[name] = f.input.value;
    run(validateButton, validateResult, () => api.post('/admin/secrets/validate', body), (answer) => (answer.valid
      ? notice('Valid: every value given passes the rules. Write them into the secret files, then start the rotation.')
      : h('div', { className: 'problem', role: 'alert' }, h('strong', {}, 'These values break the rules'),
        h('ul', {}, answer.violations.map((v) => h('li', {}, v.message))))));
  });

  // 2. Start rotation / Roll back.
  const deployment = field('Deployment ID', { autocomplete: 'off' });
  const commit = field('Commit SHA', { autocomplete: 'off', spellcheck: 'false' });
  const requestedBy = field('Requested by', { autocomplete: 'off', hint: 'Recorded in the evidence (default: admin).' });
  const message = field('User message', { tag: 'textarea', hint: 'With invalidation: what every user who is signed out reads.' });
  const invalidate = field('Invalidate sessions', { tag: 'select' }, [
    ['', 'Default (yes when JWT_SECRET changes)'],
    ['true', 'Yes: every user logs in again'],
    ['false', 'No: tokens move to the new key at their next refresh'],
  ]);
  const startButton = h('button', { type: 'submit' }, 'Start rotation');
  const rollbackButton = h('button', { type: 'button', className: 'danger' }, 'Roll back');
  const startResult = h('div');
  const progress = h('div', { 'aria-live': 'polite' });
  const startForm = h('form', { className: 'card' },
    h('div', { className: 'grid' }, deployment.wrap, commit.wrap, requestedBy.wrap, invalidate.wrap),
    message.wrap,
    h('div', { className: 'actions' }, startButton, rollbackButton),
    startResult, progress);

  const body = () => {
    const out = {};
    if (deployment.input.value.trim()) out.deployment_id = deployment.input.value.trim();
    if (commit.input.value.trim()) out.commit_sha = commit.input.value.trim();
    if (requestedBy.input.value.trim()) out.requested_by = requestedBy.input.value.trim();
    if (message.input.value.trim()) out.user_message = message.input.value.trim();
    if (invalidate.input.value) out.invalidate_sessions = invalidate.input.value === 'true';
    return out;
  };
  const start = (rollback, button) => run(button, startResult,
    () => api.post(rollback ? '/admin/secrets/rollback' : '/admin/secrets/rotate', body()),
    ({ job_id: jobId }) => {
      follow(jobId, rollback);
      return notice(`${rollback ? 'Rollback' : 'Rotation'} ${shortId(jobId)} accepted; its steps follow below.`);
    });
  startForm.addEventListener('submit', (event) => {
    event.preventDefault();
    start(false, startButton);
  });
  rollbackButton.addEventListener('click', () => start(true, rollbackButton));

  function follow(jobId, rollback) {
    clearTimeout(pollTimer);
    const what = rollback ? 'Rollback' : 'Rotation';
    const poll = async () => {
      if (stopped) return;
      let job;
      try {
        job = await api.get(`/admin/jobs/${jobId}`);
      } catch (err) {
        if (err.status !== 401) replace(progress, problemBox(err));
        return;
      }
      const steps = job.progress?.steps ?? [];
      const done = FINAL.has(job.state);
      const outcome = job.result?.outcome ?? (job.state === 'completed' ? 'succeeded' : job.state === 'discarded' ? 'failed' : null);
      replace(progress,
        h('h3', {}, `${what} ${shortId(jobId)}: ${done ? (outcome ?? job.state) : 'running'}`),
        h('ol', { className: 'steps', 'aria-label': `Steps of ${what.toLowerCase()} ${shortId(jobId)}` },
          steps.length ? steps.map((s) => h('li', {},
            h('span', { className: 'name' }, s.name),
            badge(s.state, s.state === 'succeeded' ? 'ok' : s.state === 'running' ? 'warn' : s.state === 'failed' ? 'bad' : 'muted'),
            s.detail ? h('span', {}, typeof s.detail === 'string' ? s.detail : JSON.stringify(s.detail)) : null))
            : h('li', {}, 'Waiting for a job runner to claim it…')),
        done && job.error ? problemBox({ title: `${what} failed`, message: job.error }) : null,
        done ? h('p', {}, h('button', { type: 'button', className: 'quiet', onclick: () => showRecord(jobId) }, 'Show evidence')) : null);
      if (done) {
        loadEvidence();
        return;
      }
      pollTimer = setTimeout(poll, POLL_MS);
    };
    poll();
  }

  // 3. Evidence.
  const evidenceList = h('div');
  const recordSlot = h('div', { tabindex: '-1' });
  async function loadEvidence() {
    try {
      const { rotations } = await api.get('/admin/rotations');
      replace(evidenceList, rotations.length
        ? table('Rotations and rollbacks, newest first', ['Started', 'Kind', 'Outcome', 'Deployment', 'Commit', 'Requested by', 'Record'],
          rotations.map((r) => h('tr', {},
            h('td', {}, instant(r.started_at)),
            h('td', {}, r.kind),
            h('td', {}, badge(r.outcome, r.outcome === 'succeeded' ? 'ok' : r.outcome === 'failed' ? 'bad' : 'warn')),
            h('td', {}, cell(r.deployment_id)),
            h('td', {}, cell(r.commit_sha)),
            h('td', {}, cell(r.requested_by)),
            h('td', {}, h('button', { type: 'button', className: 'quiet', onclick: () => showRecord(r.id) }, `Open ${shortId(r.id)}`)))))
        : h('p', {}, 'No rotation has run yet.'));
    } catch (err) {
      if (err.status !== 401) replace(evidenceList, problemBox(err));
    }
  }

  async function showRecord(id) {
    try {
      const r = await api.get(`/admin/rotations/${id}`);
      const detail = r.detail && typeof r.detail === 'object' ? r.detail : {};
      const steps = Array.isArray(detail.steps) ? detail.steps : [];
      const rest = Object.entries(detail).filter(([k]) => k !== 'steps');
      replace(recordSlot, h('article', { className: 'card', 'aria-labelledby': `record-${r.id}` },
        h('h3', { id: `record-${r.id}` }, `Evidence: ${r.kind} ${r.id}`),
        h('dl', {},
          h('dt', {}, 'Outcome'), h('dd', {}, r.outcome),
          h('dt', {}, 'Deployment'), h('dd', {}, cell(r.deployment_id)),
          h('dt', {}, 'Commit'), h('dd', {}, cell(r.commit_sha)),
          h('dt', {}, 'Requested by'), h('dd', {}, cell(r.requested_by)),
          h('dt', {}, 'Started'), h('dd', {}, instant(r.started_at)),
          h('dt', {}, 'Finished'), h('dd', {}, instant(r.finished_at)),
          r.failed_step ? [h('dt', {}, 'Failed step'), h('dd', {}, r.failed_step)] : null,
          r.reason ? [h('dt', {}, 'Reason'), h('dd', {}, r.reason)] : null),
        steps.length ? table('Steps', ['Step', 'State', 'Started', 'Finished', 'Detail'], steps.map((s) => h('tr', {},
          h('td', {}, s.name), h('td', {}, s.state), h('td', {}, instant(s.started_at)), h('td', {}, instant(s.finished_at)),
          h('td', {}, cell(s.detail))))) : null,
        rest.map(([key, value]) => [h('h4', {}, key.replaceAll('_', ' ')), h('pre', {}, JSON.stringify(value, null, 2))])));
      recordSlot.focus();
    } catch (err) {
      if (err.status !== 401) replace(recordSlot, problemBox(err));
    }
  }

  replace(container,
    h('h1', {}, 'Rotation'),
    h('p', {}, 'The runbook: validate the new values, write them into every instance\'s secret files, start the rotation and follow its steps, check the fleet (Fleet page), roll back if needed, and keep the evidence.'),
    section('1. Validate candidate values', validateForm),
    section('2. Start rotation or roll back', startForm),
    section('Evidence', evidenceList, recordSlot));
  loadEvidence();
  return () => {
    stopped = true;
    clearTimeout(pollTimer);
  };
}

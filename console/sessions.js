// Sessions and users: the revoke-all of an incident (behind a typed confirmation), one user's account
// (find by email; disable, enable, revoke their sessions, delete), and the revocation history with the
// requests each revocation refused.

import * as api from './api.js';
import { h, replace, section, table, field } from './dom.js';
import { instant, shortId, cell } from './format.js';
import { problemBox, notice, badge, confirmation, run } from './ui.js';

export function render(container) {
  // Revoke all.
  const reason = field('Reason', { required: true, autocomplete: 'off', hint: 'Required: recorded as evidence.' });
  const userMessage = field('User message', { tag: 'textarea', hint: 'Optional: what every signed-out user reads in their 401.' });
  const revokeButton = h('button', { type: 'submit', className: 'danger' }, 'Revoke all sessions');
  const revokeConfirm = h('div');
  const revokeResult = h('div');
  const revokeForm = h('form', { className: 'card' }, reason.wrap, userMessage.wrap, revokeButton, revokeConfirm, revokeResult);
  revokeForm.addEventListener('submit', (event) => {
    event.preventDefault();
    replace(revokeResult);
    if (!reason.input.value.trim()) {
      replace(revokeResult, problemBox({ title: 'A reason is required', message: 'Say why: it is recorded with the revocation.' }));
      reason.input.focus();
      return;
    }
    confirmation(revokeConfirm, 'Every user of every instance will have to log in again.', 'REVOKE', async () => {
      const body = { reason: reason.input.value.trim() };
      if (userMessage.input.value.trim()) body.user_message = userMessage.input.value.trim();
      const answer = await api.post('/admin/sessions/revoke-all', body);
      replace(revokeResult, notice(`All sessions revoked (notice ${shortId(answer.job_id)}); tokens issued before ${instant(answer.not_before)} are refused.`));
      reason.input.value = '';
      userMessage.input.value = '';
      loadHistory();
    });
  });

  // One user.
  const email = field('Email', { type: 'email', autocomplete: 'off', required: true });
  const findButton = h('button', { type: 'submit' }, 'Find');
  const userSlot = h('div');
  const findForm = h('form', { className: 'card' }, h('div', { className: 'actions inline' }, email.wrap, findButton), userSlot);
  findForm.addEventListener('submit', (event) => {
    event.preventDefault();
    run(findButton, userSlot, () => api.get(`/admin/users${api.query({ email: email.input.value.trim() })}`), (user) => userCard(user));
  });

  function userCard(user) {
    const result = h('div');
    const confirmSlot = h('div');
    const userReason = field('Reason for revoking this user\'s sessions', { autocomplete: 'off' });
    const refresh = async () => {
      const fresh = await api.get(`/admin/users${api.query({ email: user.email })}`);
      replace(userSlot, userCard(fresh));
    };
    const act = (button, action, done) => run(button, result, action, done);
    const disable = h('button', { type: 'button', className: 'danger' }, 'Disable');
    disable.addEventListener('click', () => act(disable, () => api.post(`/admin/users/${user.id}/disable`), () => {
      loadHistory();
      refresh();
    }));
    const enable = h('button', { type: 'button' }, 'Enable');
    enable.addEventListener('click', () => act(enable, () => api.post(`/admin/users/${user.id}/enable`), () => {
      refresh();
    }));
    const revoke = h('button', { type: 'button' }, 'Revoke sessions');
    revoke.addEventListener('click', () => {
      if (!userReason.input.value.trim()) {
        replace(result, problemBox({ title: 'A reason is required', message: 'Say why in the reason field: it is recorded with the revocation.' }));
        userReason.input.focus();
        return;
      }
      act(revoke, () => api.post(`/admin/users/${user.id}/revoke-sessions`, { reason: userReason.input.value.trim() }), () => {
        loadHistory();
        return notice(`The sessions of ${user.email} are revoked.`);
      });
    });
    const remove = h('button', { type: 'button', className: 'danger' }, 'Delete');
    remove.addEventListener('click', () => confirmation(confirmSlot, `The account ${user.email} will be deleted and its sessions ended.`, 'DELETE', async () => {
      await api.del(`/admin/users/${user.id}`);
      replace(card, notice(`The account ${user.email} is deleted.`));
      loadHistory();
    }));
    const card = h('div', { className: 'card' },
      h('dl', {},
        h('dt', {}, 'Email'), h('dd', {}, user.email),
        h('dt', {}, 'Id'), h('dd', { className: 'mono' }, user.id),
        h('dt', {}, 'Created'), h('dd', {}, instant(user.created_at)),
        h('dt', {}, 'Status'), h('dd', {}, user.disabled_at ? badge(`disabled since ${instant(user.disabled_at)}`, 'bad') : badge('enabled', 'ok'))),
      userReason.wrap,
      h('div', { className: 'actions' }, user.disabled_at ? enable : disable, revoke, remove),
      confirmSlot, result);
    return card;
  }

  // History.
  const historySlot = h('div');
  async function loadHistory() {
    try {
      const { revocations } = await api.get('/admin/sessions/revocations');
      replace(historySlot, revocations.length
        ? table('Revocations, newest first', ['When', 'Scope', 'Reason', 'Requested by', 'User message', 'Sessions ended', 'Refused requests'],
          revocations.map((r) => h('tr', {},
            h('td', {}, instant(r.created_at)),
            h('td', {}, r.scope === 'user' ? `user ${shortId(r.user_id)}` : 'everyone'),
            h('td', {}, r.reason),
            h('td', {}, r.requested_by),
            h('td', {}, cell(r.user_message)),
            h('td', {}, cell(r.active_sessions)),
            h('td', {}, cell(r.refused_requests)))))
        : h('p', {}, 'No revocation yet.'));
    } catch (err) {
      if (err.status !== 401) replace(historySlot, problemBox(err));
    }
  }

  replace(container,
    h('h1', {}, 'Sessions and users'),
    section('Force everyone to log in again', h('p', {}, 'Ends every session on every instance at once (an incident, a leaked key). Users see the message in the 401 their next request gets.'), revokeForm),
    section('Find a user', findForm),
    section('Revocation history', historySlot));
  loadHistory();
  return null;
}

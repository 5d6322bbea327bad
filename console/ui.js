// Pieces every page uses: the problem box (title and detail of any failure), a notice, a status badge, and the
// typed confirmation that guards destructive actions.

import { h, replace, field } from './dom.js';

/**
 * A failure as the operator reads it: the problem's title and detail (and its field errors or template
 * issues, when it lists any). role=alert: announced when it appears.
 */
export function problemBox(err) {
  const problem = err?.problem ?? { title: err?.title ?? 'Something went wrong', detail: err?.message ?? String(err) };
  const items = [];
  for (const e of problem.errors ?? []) items.push(`${e.field ?? ''}${e.field ? ': ' : ''}${e.message ?? e.code ?? ''}`);
  for (const e of problem.problems ?? problem.issues ?? []) {
    items.push(`${e.template ?? ''}${e.field ? ` / ${e.field}` : ''}${e.template || e.field ? ': ' : ''}${e.message ?? e.code ?? ''}`);
  }
  return h('div', { className: 'problem', role: 'alert' },
    h('strong', {}, problem.title ?? 'Error'),
    problem.detail ? h('p', {}, problem.detail) : null,
    items.length ? h('ul', {}, items.map((t) => h('li', {}, t))) : null);
}

/** A success message (role=status: announced politely). */
export function notice(...children) {
  return h('div', { className: 'notice', role: 'status' }, children);
}

/** A status badge whose meaning is in its text, not only its colour. */
export function badge(text, tone = 'muted') {
  return h('span', { className: `badge ${tone}` }, text);
}

/** Shows `content` in `slot` (replacing what was there). */
export function show(slot, ...content) {
  replace(slot, ...content);
}

/**
 * Runs `action` with `button` disabled; shows its failure (title and detail) in `slot`, or what `done` builds
 * from its result.
 */
export async function run(button, slot, action, done) {
  if (button) button.disabled = true;
  replace(slot);
  try {
    const result = await action();
    if (done) replace(slot, done(result) ?? []);
    return result;
  } catch (err) {
    replace(slot, problemBox(err));
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

let openConfirmation = null;

/**
 * Asks for a typed confirmation in `slot`: the page shows `word`; the operator types it into the field labelled
 * **Confirmation** and presses **Confirm**. One confirmation is open at a time on a page (opening another
 * closes the first), so the names stay unique.
 * @param {HTMLElement} slot
 * @param {string} what the sentence saying what will happen
 * @param {string} word e.g. `REVOKE`
 * @param {() => Promise<void>} action run once confirmed
 */
export function confirmation(slot, what, word, action) {
  if (openConfirmation && openConfirmation !== slot) replace(openConfirmation);
  openConfirmation = slot;
  const { wrap, input } = field('Confirmation', { autocomplete: 'off', spellcheck: 'false', hint: `Type ${word} to confirm.` });
  const result = h('div');
  const confirm = h('button', { type: 'submit', className: 'danger' }, 'Confirm');
  const back = h('button', { type: 'button', className: 'quiet', onclick: () => close() }, 'Back');
  const close = () => {
    replace(slot);
    if (openConfirmation === slot) openConfirmation = null;
  };
  const form = h('form', { className: 'card', 'aria-label': 'Confirmation' },
    h('p', {}, what, ' Type ', h('strong', { className: 'mono' }, word), ' to confirm.'),
    wrap,
    h('div', { className: 'actions' }, confirm, back),
    result);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (input.value.trim() !== word) {
      replace(result, problemBox({ title: 'Not confirmed', message: `Type ${word} exactly to confirm.` }));
      input.focus();
      return;
    }
    confirm.disabled = true;
    try {
      await action();
      close();
    } catch (err) {
      replace(result, problemBox(err));
      confirm.disabled = false;
    }
  });
  replace(slot, form);
  input.focus();
}

// Building the page without HTML strings: every element is created, every piece of text is a text node
// (textContent), so a user-supplied name like `<img src=x onerror=alert(1)>` shows as those characters.

/**
 * Creates an element.
 * @param {string} tag
 * @param {Record<string, unknown>} [props] attributes; `on<event>` functions become listeners; `text` sets
 *   textContent; `className`, `hidden`, `disabled`, `checked`, `value` are set as properties; false/null skip.
 * @param {...(Node|string|number|null|undefined|false|Array)} children strings become text nodes
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'text') {
      el.textContent = String(value);
    } else if (['className', 'hidden', 'disabled', 'checked', 'value', 'required', 'selected'].includes(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children (strings as text nodes, arrays flattened, empty values skipped). */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
/** A unique id for label/field pairs. */
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * A labelled field: `<label for>` + the control (input by default). Returns {wrap, input}.
 * @param {string} label the accessible name (visible)
 * @param {Record<string, unknown>} [props] the control's props; `tag` picks textarea/select
 */
export function field(label, props = {}, options = []) {
  const id = nextId('field');
  const { tag = 'input', hint, ...rest } = props;
  const hintId = hint ? `${id}-hint` : null;
  const input = h(tag, { id, ...rest, 'aria-describedby': hintId ?? false },
    ...options.map(([value, text]) => h('option', { value }, text)));
  const wrap = h('div', { className: 'field' }, h('label', { for: id }, label), input,
    hint ? h('p', { className: 'hint', id: hintId }, hint) : null);
  return { wrap, input };
}

/** A table inside a keyboard-focusable scrolling region (narrow screens scroll it sideways). */
export function table(caption, headers, rows) {
  return h('div', { className: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: '0' },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headers.map((name) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, rows)));
}

/** A section with a heading. */
export function section(title, ...children) {
  const id = nextId('sec');
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), children);
}

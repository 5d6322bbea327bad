// The console's shell: the token gate, the navigation between sections (deep links /console/<page>, history
// without reloads), and the hand-back to the token field on any 401. Each section is a module with
// `render(container)` that returns a function stopping its timers.

import * as api from './api.js';
import { replace } from './dom.js';
import { problemBox } from './ui.js';
import * as fleet from './fleet.js';
import * as rotation from './rotation.js';
import * as sessions from './sessions.js';
import * as jobs from './jobs.js';
import * as catalog from './catalog.js';
import * as templates from './templates.js';
import * as forms from './forms.js';

const PAGES = { fleet, rotation, sessions, jobs, catalog, templates, forms };
const TITLES = {
  fleet: 'Fleet',
  rotation: 'Rotation',
  sessions: 'Sessions and users',
  jobs: 'Jobs',
  catalog: 'Catalog',
  templates: 'Templates',
  forms: 'Forms',
};

const $ = (id) => document.getElementById(id);
let stopPage = null;

/** The section a path names (`/console/` and unknown paths: Fleet, the landing page). */
function pageOf(pathname) {
  const name = pathname.replace(/^\/console\/?/, '').split('/')[0];
  return PAGES[name] ? name : 'fleet';
}

function stop() {
  if (stopPage) stopPage();
  stopPage = null;
}

/** Back to the token field, saying why when there is a reason (a refused token). */
function showGate(problem) {
  stop();
  $('page').hidden = true;
  replace($('page'));
  $('nav').hidden = true;
  $('forget').hidden = true;
  $('gate').hidden = false;
  document.title = 'Gantry console';
  replace($('gate-error'), problem ? problemBox({ problem }) : []);
  const input = $('token');
  input.value = '';
  input.focus();
}

function render() {
  stop();
  const name = pageOf(location.pathname);
  $('gate').hidden = true;
  $('nav').hidden = false;
  $('forget').hidden = false;
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.page === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const container = $('page');
  replace(container);
  container.hidden = false;
  document.title = `${TITLES[name]} · Gantry console`;
  stopPage = PAGES[name].render(container) ?? null;
}

function navigate(path) {
  if (path !== location.pathname) history.pushState({}, '', path);
  render();
  $('main').focus();
}

api.onUnauthorized((problem) => showGate(problem));

$('token-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const value = $('token').value.trim();
  if (!value) return;
  const button = event.submitter ?? $('token-form').querySelector('button');
  button.disabled = true;
  replace($('gate-error'));
  try {
    // Checked once before it is kept: a wrong token returns here with the problem's title and detail.
    await api.call('GET', '/admin/secrets', undefined, { tokenOverride: value });
    api.setToken(value);
    $('token').value = '';
    render();
    $('main').focus();
  } catch (err) {
    if (err.status !== 401) replace($('gate-error'), problemBox(err));
  } finally {
    button.disabled = false;
  }
});

$('forget').addEventListener('click', () => {
  api.forgetToken();
  showGate(null);
});

$('nav').addEventListener('click', (event) => {
  const link = event.target.closest('a[data-page]');
  if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute('href'));
});

window.addEventListener('popstate', () => {
  if (api.token()) render();
});

if (api.token()) render();
else showGate(null);

// Fleet (the landing page): every live instance with its heartbeat age and readiness, the fingerprint of every
// secret version per instance with disagreements marked, the job queues' depths, this instance's recent
// refusals and 5xx answers, and a comparison with another deployment's pasted fingerprints (the runbook's
// "check the fleet" step). Refreshed every 5 seconds while open.

import * as api from './api.js';
import { h, replace, section, table, field } from './dom.js';
import { age, instant, shortId, plural, queueDepths } from './format.js';
import { instancesOf, acrossInstances, parsePasted, betweenDeployments } from './fingerprints.js';
import * as metrics from './metrics.js';
import { problemBox, badge } from './ui.js';

const REFRESH_MS = 5000;
const CHART_POINTS = 30;

export function render(container) {
  const summary = h('div', { role: 'status', className: 'summary' }, 'Loading the fleet…');
  const instancesSlot = h('div');
  const fingerprintsSlot = h('div');
  const queuesSlot = h('div');
  const chartsSlot = h('div');
  const compareSlot = h('div');
  let latest = null;

  const pasted = field('Fingerprints from another deployment', {
    tag: 'textarea',
    spellcheck: 'false',
    hint: 'Paste the JSON of GET /admin/fleet or GET /admin/secrets from the other deployment (staging, say).',
  });
  const compareButton = h('button', { type: 'submit' }, 'Compare');
  const compareForm = h('form', { className: 'card' }, pasted.wrap, compareButton, compareSlot);
  compareForm.addEventListener('submit', (event) => {
    event.preventDefault();
    compare();
  });

  replace(container,
    h('h1', {}, 'Fleet'),
    summary,
    section('Instances', instancesSlot),
    section('Secret fingerprints', h('p', {}, 'Each instance\'s fingerprint of every secret version (never a value). Rows where the instances differ are marked.'), fingerprintsSlot),
    section('Job queues', queuesSlot),
    section('Refusals and server errors on this instance', chartsSlot),
    section('Compare with another deployment', compareForm));

  function compare() {
    if (!latest) return;
    let there;
    try {
      there = parsePasted(pasted.input.value);
    } catch (err) {
      replace(compareSlot, problemBox({ title: 'The pasted text cannot be compared', message: err.message }));
      return;
    }
    const rows = betweenDeployments(instancesOf(latest), there);
    const differing = rows.filter((r) => r.verdict !== 'same').length;
    replace(compareSlot,
      h('p', { role: 'status' }, differing ? `${plural(differing, 'secret version')} differ from the other deployment.` : 'Both deployments hold the same fingerprints.'),
      table('This deployment against the other', ['Secret', 'State', 'Here', 'There', 'Verdict'], rows.map((r) =>
        h('tr', { className: r.verdict === 'same' ? '' : 'differs' },
          h('td', {}, r.name), h('td', {}, r.state),
          h('td', { className: 'mono' }, r.here.join(', ') || '—'),
          h('td', { className: 'mono' }, r.there.join(', ') || '—'),
          h('td', {}, badge(r.verdict, r.verdict === 'same' ? 'ok' : 'bad'))))));
  }

  async function loadFleet() {
    try {
      const doc = await api.get('/admin/fleet');
      latest = doc;
      drawFleet(doc);
    } catch (err) {
      if (err.status === 401) return;
      replace(summary, problemBox(err));
    }
  }

  function drawFleet(doc) {
    const n = doc.instances.length;
    const verdict = n === 0
      ? [badge('unknown', 'bad'), ` No instance wrote a heartbeat within ${doc.live_within_secs} s: the fleet cannot be checked (is the database reachable?).`]
      : doc.agrees
      ? [badge('agrees', 'ok'), n === 1
        ? ` The one instance seen within ${doc.live_within_secs} s reported its fingerprints.`
        : ` All ${n} instances seen within ${doc.live_within_secs} s hold the same fingerprints.`]
      : [badge('disagrees', 'bad'), ` ${plural(n, 'instance')} seen within ${doc.live_within_secs} s: ${plural(doc.disagreements.length, 'secret version')} differ${doc.unreported.length ? `, ${plural(doc.unreported.length, 'instance')} did not report` : ''}.`];
    replace(summary, h('p', {}, 'Fleet keys: ', verdict));
    replace(instancesSlot, table('Live instances', ['Instance', 'Version', 'Started', 'Last heartbeat', 'Readiness', 'Components down'],
      doc.instances.map((i) => {
        const down = Object.entries(i.components ?? {}).filter(([, s]) => s !== 'up').map(([c]) => c);
        const tone = i.status === 'ready' ? 'ok' : i.status === 'degraded' ? 'warn' : 'bad';
        return h('tr', {},
          h('td', {}, h('code', { title: i.id }, shortId(i.id)), i.this_instance ? ' (this instance)' : ''),
          h('td', {}, i.version ?? 'no report'),
          h('td', {}, instant(i.started_at)),
          h('td', {}, `${age(i.heartbeat_age_ms)} ago`),
          h('td', {}, badge(i.status ?? 'unknown', i.status ? tone : 'muted')),
          h('td', {}, down.length ? down.join(', ') : 'none'));
      })));
    const rows = acrossInstances(instancesOf(doc));
    const ids = doc.instances.map((i) => i.id);
    replace(fingerprintsSlot, table('Fingerprints per instance', ['Secret', 'State', ...ids.map((id) => `Instance ${shortId(id)}`), 'Agreement'],
      rows.map((r) => h('tr', { className: r.agrees ? '' : 'differs' },
        h('td', {}, r.name), h('td', {}, r.state),
        ids.map((id) => h('td', { className: 'mono' }, r.values.get(id) ?? 'none')),
        h('td', {}, r.agrees ? badge('same', 'ok') : badge('differs', 'bad'))))));
  }

  async function loadQueues() {
    try {
      const { counts } = await api.get('/admin/jobs/counts');
      const depths = queueDepths(counts);
      replace(queuesSlot,
        h('p', {}, 'Unfinished jobs per queue (every stored job).'),
        depths.length
          ? table('Queue depths', ['Queue', 'Available', 'Scheduled', 'Retryable', 'Running'], depths.map((q) =>
            h('tr', {}, h('td', {}, q.queue), h('td', {}, q.available), h('td', {}, q.scheduled), h('td', {}, q.retryable), h('td', {}, q.running))))
          : h('p', {}, 'No job is waiting or running.'));
    } catch (err) {
      if (err.status !== 401) replace(queuesSlot, problemBox(err));
    }
  }

  const history = { refusals: [], errors: [] };
  async function loadMetrics() {
    try {
      const text = await api.call('GET', '/metrics', undefined, { auth: false });
      const samples = metrics.parse(text);
      history.refusals.push(metrics.refusals(samples));
      history.errors.push(metrics.serverErrors(samples));
      for (const series of Object.values(history)) if (series.length > CHART_POINTS + 1) series.shift();
      replace(chartsSlot, h('div', { className: 'charts' },
        chart('Refusals (401, 403, 429, shed, refused connections)', history.refusals, ''),
        chart('5xx answers', history.errors, 'bad')),
      h('p', { className: 'hint' }, `Increase per ${REFRESH_MS / 1000} s since this page opened (this instance's /metrics).`));
    } catch (err) {
      replace(chartsSlot, problemBox(err));
    }
  }

  function chart(title, totals, tone) {
    const steps = metrics.increases(totals);
    const total = steps.reduce((a, b) => a + b, 0);
    const svgNs = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(svgNs, 'svg');
    svg.setAttribute('viewBox', '0 0 300 60');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `${title}: ${total} in the last ${steps.length} intervals`);
    const line = document.createElementNS(svgNs, 'polyline');
    line.setAttribute('points', metrics.sparkline(steps.length >= 2 ? steps : [0, steps[0] ?? 0], 300, 56));
    svg.append(line);
    return h('div', { className: `chart ${tone}` }, h('p', {}, h('strong', {}, title)), svg,
      h('p', {}, steps.length ? `${total} since this page opened; last interval ${steps.at(-1)}` : 'Collecting…'));
  }

  const tick = () => Promise.all([loadFleet(), loadQueues(), loadMetrics()]);
  tick();
  const timer = setInterval(tick, REFRESH_MS);
  return () => clearInterval(timer);
}

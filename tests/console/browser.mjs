// The console's browser test (issue 21), run by .ci/run: Debian's chromium, headless, driven by puppeteer-core
// (pinned by package-lock.json; it never downloads a browser), against a real local-profile instance started
// here. Controls are found by role and accessible name, as an operator finds them.
//
// Checks: every page loads (deep link) with no console error and no failed request, at 1280 and 390 px (no
// sideways scrolling of the page), and every control on it is reached with the Tab key; the token field gates
// everything; Revoke all sessions makes an earlier access token answer 401 with the user message; Start
// rotation (invalidating sessions) shows each step and ends in success, ends earlier sessions with the user
// message, and the evidence shows it; Roll back does the same; the catalog's review queue names each option's
// creator and account age and groups near duplicates; Approve, Approve selected and Hide selected (with their
// progress count), Rename and Merge show in the audit log and in GET /v1/options; an option named with HTML
// renders as text; the jobs page counts every job per queue, kind and state, and a failed job is retried from
// it; a template import that fails its check lists each problem and stores nothing; the Forms page fills a form
// with the browser runtime and the server agreeing at every step (a condition, a reset, a wrong type, a
// carry-over); axe-core finds no serious
// or critical violation on any page. Screenshots of each page go to target/console-screenshots
// (CONSOLE_SCREENSHOTS).
//
// Usage: node browser.mjs   (GANTRY_BIN, default target/debug/gantry; CHROMIUM, default /usr/bin/chromium)

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import puppeteer from 'puppeteer-core';
import { startInstance as startGantry } from '../shared/instance.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const BIN = resolve(root, process.env.GANTRY_BIN ?? 'target/debug/gantry');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve(root, process.env.CONSOLE_SCREENSHOTS ?? 'target/console-screenshots');
const AXE = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
const PAGES = [
  ['fleet', 'Fleet'],
  ['rotation', 'Rotation'],
  ['sessions', 'Sessions and users'],
  ['jobs', 'Jobs'],
  ['catalog', 'Catalog'],
  ['templates', 'Templates'],
  ['forms', 'Forms'],
];
const XSS = '<img src=x onerror=alert(1)>';

// ---------------------------------------------------------------- the instance

function startInstance() {
  return startGantry(BIN, {
    prefix: 'gantry-console-',
    // A rotation waits for every instance seen alive; beats a second apart keep the test's fleet current.
    env: {
      GANTRY_ROTATION__HEARTBEAT_SECS: '1',
      GANTRY_ROTATION__LIVE_WITHIN_SECS: '5',
      // Review on: the test's users are new accounts, so their options wait for Approve (single and in bulk).
      GANTRY_CATALOG__NEW_ACCOUNT_REVIEW_AGE_SECS: '86400',
    },
  });
}

/** A JSON call to the instance from outside the browser (what a user's client or an operator's curl does). */
async function http(method, url, { body, token, headers = {} } = {}) {
  const response = await fetch(url, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: response.status, json, headers: response.headers };
}

async function loginAs(instance, email) {
  return (await sessionOf(instance, email)).access_token;
}

/** Creates the account (if new) and logs in: the login's answer (access and refresh tokens). */
async function sessionOf(instance, email) {
  const password = 'correct horse battery staple 42';
  const created = await http('POST', `${instance.admin}/admin/users`, { token: instance.token, body: { email, password } });
  assert.ok([201, 409].includes(created.status), `create ${email}: ${created.status} ${JSON.stringify(created.json)}`);
  const login = await http('POST', `${instance.http}/v1/auth/login`, { body: { email, password } });
  assert.equal(login.status, 200, `login: ${JSON.stringify(login.json)}`);
  return login.json;
}

async function eventually(what, probe, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: never happened`);
}

// ---------------------------------------------------------------- the page

const aria = (role, name) => `::-p-aria([name="${name.replaceAll('"', '\\"')}"][role="${role}"])`;

/** The one element of `role` named `name` under `scope` (fails when there is none or more than one). */
async function one(scope, role, name, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = await scope.$$(aria(role, name));
    if (found.length === 1) return found[0];
    if (found.length > 1) throw new Error(`${found.length} ${role}s named "${name}"`);
    if (Date.now() > deadline) throw new Error(`no ${role} named "${name}"`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function fill(scope, name, value, role = 'textbox') {
  const input = await one(scope, role, name);
  await input.click({ count: 3 });
  await input.evaluate((el) => { el.value = ''; });
  await input.type(value);
  return input;
}

async function press(scope, name) {
  // The pages re-render on their own (live refresh): a button found a moment ago may be replaced before the
  // click lands. Find it again then, as a person would.
  for (let tries = 0; ; tries++) {
    const button = await one(scope, 'button', name);
    try {
      await button.click();
      return button;
    } catch (err) {
      if (tries >= 20 || !/detached|not clickable|not an Element/i.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Waits until the page's text contains `text`. */
async function waitText(page, text, timeout = 20_000) {
  await page.waitForFunction((t) => document.body.innerText.includes(t), { timeout }, text);
}

/** The cells (`th` and `td`) of the table row whose cells hold exactly `text`, read in one go in the page (a
 * re-render between finding the row and reading it cannot detach what is read). */
async function rowCells(page, text) {
  return eventually(`a row with "${text}"`, () => page.evaluate((t) => {
    for (const row of document.querySelectorAll('tbody tr')) {
      const cells = [...row.querySelectorAll('th, td')].map((e) => e.textContent);
      if (cells.includes(t)) return cells;
    }
    return null;
  }, text));
}

/** The table row whose header or first cells hold exactly `text`. */
async function rowWith(page, text) {
  return eventually(`a row with "${text}"`, async () => {
    const rows = await page.$$('tbody tr');
    for (const row of rows) {
      // A row replaced by a redraw while we read it is looked up again at the next try.
      const cells = await row.$$eval('th, td', (els) => els.map((e) => e.textContent)).catch(() => []);
      if (cells.includes(text)) return row;
    }
    return null;
  }, 10_000);
}

/**
 * Presses the button `name` in the table row holding `text`, once the page has settled (an earlier action's
 * redraw may replace the row; a replaced row is looked up again).
 */
async function pressInRow(page, text, name) {
  await settle(page);
  for (let tries = 0; ; tries += 1) {
    try {
      const row = await rowWith(page, text);
      return await press(row, name);
    } catch (err) {
      if (tries >= 3) throw err;
      await settle(page);
    }
  }
}

function watch(page) {
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    // A download's blob URL or an aborted poll on navigation is not a failure of the page.
    if (!req.url().startsWith('blob:') && req.failure()?.errorText !== 'net::ERR_ABORTED') {
      problems.push(`request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`);
    }
  });
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.request().method()} ${res.url()}`);
  });
  page.on('dialog', async (dialog) => {
    problems.push(`a dialog opened (script ran): ${dialog.message()}`);
    await dialog.dismiss();
  });
  return {
    take() {
      return problems.splice(0);
    },
    clean(where) {
      const found = problems.splice(0);
      assert.deepEqual(found, [], `${where}: the page had problems`);
    },
  };
}

async function axeScan(page, where) {
  // Evaluated through DevTools, which the page's CSP does not govern (the page itself may load no inline script).
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${where}: axe-core found serious or critical violations`);
  return result.length;
}

/**
 * Presses Tab through the page and checks that every visible, enabled control (links, buttons, fields,
 * scrolling regions) receives the focus. Controls are told apart by their accessible text, so a redraw (the
 * Fleet page refreshes) does not lose track of them.
 */
async function keyboardReachesEverything(page, where) {
  // (Each evaluate spells the description out: the page's CSP allows no eval to share it.)
  const expected = await page.evaluate(() => {
    const id = (el) => `${el.tagName}|${el.getAttribute('aria-label') ?? el.labels?.[0]?.textContent ?? el.textContent.trim().slice(0, 60)}`;
    const visible = (el) => el.getClientRects().length > 0 && !el.disabled && !el.closest('[hidden]');
    const controls = document.querySelectorAll('a[href], button, input, select, textarea, [tabindex="0"]');
    return [...new Set([...controls].filter(visible).map(id))];
  });
  assert.ok(expected.length >= 8, `${where}: the skip link, six sections and Forget token at least (${expected})`);
  await page.evaluate(() => document.activeElement?.blur());
  const seen = new Set();
  for (let i = 0; i < expected.length * 2 + 10 && seen.size < expected.length; i += 1) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      const id = (e) => `${e.tagName}|${e.getAttribute('aria-label') ?? e.labels?.[0]?.textContent ?? e.textContent.trim().slice(0, 60)}`;
      return el && el !== document.body ? id(el) : null;
    });
    if (focused) seen.add(focused);
  }
  const missed = expected.filter((c) => !seen.has(c));
  assert.deepEqual(missed, [], `${where}: controls the Tab key never reached`);
}

/** Starts recording the progress lines of a bulk action (`Approved 1 of 2…`) as the page shows them. */
async function recordProgress(page) {
  await page.evaluate(() => {
    window.progressSeen = [];
    const observer = new MutationObserver(() => {
      for (const el of document.querySelectorAll('[role="status"]')) {
        const text = el.textContent.trim();
        if (/^\S+ \d+ of \d+…$/.test(text) && window.progressSeen.at(-1) !== text) window.progressSeen.push(text);
      }
    });
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
  });
}

/** The progress lines recorded since {@link recordProgress}. */
function progressSeen(page) {
  return page.evaluate(() => window.progressSeen);
}

async function settle(page) {
  await page.waitForNetworkIdle({ idleTime: 300, timeout: 15_000 }).catch(() => {});
}

// ---------------------------------------------------------------- the test

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const instance = await startInstance();
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const results = [];
  let page;
  const step = async (name, fn) => {
    const started = Date.now();
    try {
      await fn();
    } catch (err) {
      await page?.screenshot({ path: join(SHOTS, 'failure.png'), fullPage: true }).catch(() => {});
      throw err;
    }
    results.push(`ok   ${name} (${Date.now() - started} ms)`);
    console.log(results.at(-1));
  };
  try {
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const seen = watch(page);
    const base = `${instance.admin}/console`;

    await step('the console is served on the admin listener only, with its CSP', async () => {
      const admin = await http('GET', `${base}/`);
      assert.equal(admin.status, 200);
      assert.match(admin.headers.get('content-security-policy'), /default-src 'self'/);
      const pub = await http('GET', `${instance.http}/console/`);
      assert.equal(pub.status, 404);
    });

    await step('the token field gates everything', async () => {
      await page.goto(`${base}/sessions`, { waitUntil: 'networkidle0' });
      await one(page, 'textbox', 'Admin token');
      assert.equal(await page.$eval('#nav', (n) => n.hidden), true, 'no section before the token');
      assert.equal(await page.$eval('#page', (n) => n.hidden), true);
      seen.clean('the gate');
      await fill(page, 'Admin token', 'not-the-token');
      await press(page, 'Open the console');
      const alert = await (await page.waitForSelector('#gate-error [role="alert"]', { timeout: 20_000 }))
        .evaluate((n) => n.textContent);
      assert.match(alert, /unauthori[sz]ed/i, 'the refusal shows the problem title');
      // The refused check is the one expected failure (Chrome logs it as a console error too).
      const expected = seen.take();
      assert.ok(expected.every((p) => /401/.test(p)), expected.join('\n'));
      assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused token is not kept');
      await fill(page, 'Admin token', instance.token);
      await press(page, 'Open the console');
      await page.waitForSelector('h1::-p-text(Sessions and users)');
      assert.equal(await page.evaluate(() => document.cookie), '', 'no cookie');
      assert.equal(page.url(), `${base}/sessions`, 'the token is not in the URL');
      await settle(page);
      seen.clean('after the token');
    });

    const violations = {};
    await step('every page loads by its deep link, clean, at 1280 px and 390 px, with no serious axe violation, every control reached by Tab', async () => {
      for (const [path, title] of PAGES) {
        await page.setViewport({ width: 1280, height: 900 });
        await page.goto(`${base}/${path}`, { waitUntil: 'networkidle0' });
        await page.waitForSelector(`h1::-p-text(${title})`);
        await settle(page);
        await page.screenshot({ path: join(SHOTS, `${path}.png`), fullPage: true });
        violations[path] = await axeScan(page, path);
        await keyboardReachesEverything(page, path);
        await page.setViewport({ width: 390, height: 844 });
        await settle(page);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `${path} at 390 px is ${overflow} px wider than the screen`);
        await page.screenshot({ path: join(SHOTS, `${path}-390.png`), fullPage: true });
        seen.clean(path);
      }
      await page.setViewport({ width: 1280, height: 900 });
    });

    await step('Fleet shows this instance and that the fleet agrees', async () => {
      await page.goto(`${base}/`, { waitUntil: 'networkidle0' });
      await waitText(page, 'Fleet keys: agrees');
      await waitText(page, '(this instance)');
      const fleet = await http('GET', `${instance.admin}/admin/fleet`, { token: instance.token });
      const current = fleet.json.instances[0].secrets.find((s) => s.name === 'JWT_SECRET' && s.state === 'current');
      await waitText(page, current.fingerprint);
      // The other deployment's JSON pasted in: its different JWT_SECRET is flagged.
      const other = { instance_id: 'staging', secrets: [{ ...current, fingerprint: '000000000000' }] };
      await fill(page, 'Fingerprints from another deployment', JSON.stringify(other));
      await press(page, 'Compare');
      await waitText(page, 'differ from the other deployment');
      seen.clean('fleet');
    });

    await step('Revoke all sessions through the UI: an earlier access token answers 401 with the user message; the history counts it', async () => {
      const access = await loginAs(instance, 'revoked@example.com');
      assert.equal((await http('GET', `${instance.http}/v1/auth/me`, { token: access })).status, 200);
      await page.goto(`${base}/sessions`, { waitUntil: 'networkidle0' });
      const message = 'We signed everyone out (console drill). Please log in again.';
      await fill(page, 'Reason', 'console drill');
      await fill(page, 'User message', message);
      await press(page, 'Revoke all sessions');
      await fill(page, 'Confirmation', 'REVOKE');
      await press(page, 'Confirm');
      await waitText(page, 'All sessions revoked');
      const me = await eventually('the old token refused', async () => {
        const r = await http('GET', `${instance.http}/v1/auth/me`, { token: access });
        return r.status === 401 ? r : null;
      });
      assert.equal(me.json.code, 'session_revoked');
      assert.equal(me.json.notice?.message, message);
      await waitText(page, 'console drill');
      // The history counts the requests the revocation refused (flushed with the session view's reload).
      const counted = await eventually('the refused request counted', async () => {
        const r = await http('GET', `${instance.admin}/admin/sessions/revocations`, { token: instance.token });
        return r.json.revocations.find((n) => n.reason === 'console drill' && n.refused_requests >= 1);
      });
      await page.goto(`${base}/sessions`, { waitUntil: 'networkidle0' });
      const history = await rowCells(page, 'console drill');
      assert.equal(history.at(-1), String(counted.refused_requests), `refused requests in the history (${history})`);
      seen.clean('revoke all');
    });

    await step('Sessions and users: find by Email, Disable, Enable, Revoke sessions, Delete (confirmed)', async () => {
      const email = 'managed@example.com';
      const access = await loginAs(instance, email);
      await page.goto(`${base}/sessions`, { waitUntil: 'networkidle0' });
      await fill(page, 'Email', email);
      await press(page, 'Find');
      await waitText(page, 'enabled');
      await press(page, 'Disable');
      await waitText(page, 'disabled since');
      const refused = await http('POST', `${instance.http}/v1/auth/login`, { body: { email, password: 'correct horse battery staple 42' } });
      assert.equal(refused.json.code, 'account_disabled');
      assert.equal((await http('GET', `${instance.http}/v1/auth/me`, { token: access })).status, 401);
      await press(page, 'Enable');
      await page.waitForFunction(() => !document.body.innerText.includes('disabled since'));
      const again = await loginAs(instance, email);
      await fill(page, "Reason for revoking this user's sessions", 'console drill: one user');
      await press(page, 'Revoke sessions');
      await waitText(page, `The sessions of ${email} are revoked.`);
      await eventually('the user token refused', async () => (await http('GET', `${instance.http}/v1/auth/me`, { token: again })).status === 401);
      await press(page, 'Delete');
      await fill(page, 'Confirmation', 'DELETE');
      await press(page, 'Confirm');
      await waitText(page, `The account ${email} is deleted.`);
      const gone = await http('GET', `${instance.admin}/admin/users?email=${encodeURIComponent(email)}`, { token: instance.token });
      assert.equal(gone.status, 404);
      seen.clean('users');
    });

    await step('Start rotation (invalidating sessions) shows each step and ends in success; the evidence shows it; Roll back too', async () => {
      const before = await sessionOf(instance, 'rotated@example.com');
      const value = randomBytes(32).toString('hex');
      await page.goto(`${base}/rotation`, { waitUntil: 'networkidle0' });
      await fill(page, 'JWT_SECRET', value);
      await press(page, 'Validate');
      await waitText(page, 'Valid: every value given passes the rules');
      writeFileSync(join(instance.work, 'data/secrets/JWT_SECRET'), `${value}\n`);
      await fill(page, 'Deployment ID', 'console-1');
      await fill(page, 'Commit SHA', 'c0ffee1');
      const message = 'We replaced a signing key; please log in again.';
      await fill(page, 'User message', message);
      await (await one(page, 'combobox', 'Invalidate sessions')).select('true');
      await press(page, 'Start rotation');
      await page.waitForFunction(() => /Rotation \S+: succeeded/.test(document.body.innerText), { timeout: 60_000 });
      const steps = await page.$$eval('ol.steps li .name', (els) => els.map((e) => e.textContent));
      for (const name of ['validate', 'stage', 'smoke', 'promote', 'invalidate', 'record']) {
        assert.ok(steps.includes(name), `the step ${name} is shown (${steps})`);
      }
      // The switch ended the sessions from before, with the message.
      const refused = await http('POST', `${instance.http}/v1/auth/refresh`, { body: { refresh_token: before.refresh_token } });
      assert.equal(refused.status, 401, JSON.stringify(refused.json));
      assert.equal(refused.json.notice?.message, message);
      await press(page, 'Show evidence');
      await waitText(page, 'Evidence: rotation');
      const headings = await page.$$eval('article h4', (els) => els.map((e) => e.textContent));
      for (const part of ['changes', 'smoke', 'notice']) assert.ok(headings.includes(part), `the record shows its ${part} (${headings})`);
      const evidence = await rowWith(page, 'console-1');
      assert.match(await evidence.evaluate((r) => r.textContent), /succeeded/);
      await page.screenshot({ path: join(SHOTS, 'rotation-evidence.png'), fullPage: true });

      await press(page, 'Roll back');
      await page.waitForFunction(() => /Rollback \S+: succeeded/.test(document.body.innerText), { timeout: 60_000 });
      await waitText(page, 'rollback');
      seen.clean('rotation');
    });

    await step('Catalog: creators and near duplicates; Approve, Approve selected, Hide, Unhide, Rename; a Merge shows in the audit log and in GET /v1/options; Hide selected; an HTML name is text', async () => {
      const access = await loginAs(instance, 'moderated@example.com');
      const create = async (name) => {
        const r = await http('POST', `${instance.http}/v1/options/brand`, { token: access, body: { name } });
        assert.ok([200, 201].includes(r.status), `create ${name}: ${r.status} ${JSON.stringify(r.json)}`);
        return r.json;
      };
      const source = await create('Konsole Trucks Old');
      const survivor = await create('Konsole Trucks');
      const xss = await create(XSS);
      assert.ok(source.pending && survivor.pending && xss.pending, "a new account's options wait for review");
      const reviewed = async (id) => {
        const r = await http('GET', `${instance.admin}/admin/options?limit=1000`, { token: instance.token });
        return r.json.items.find((o) => o.id === id);
      };
      await page.goto(`${base}/catalog`, { waitUntil: 'networkidle0' });
      // The HTML name is shown as those characters, and nothing of it became an element or ran.
      await rowWith(page, XSS);
      assert.equal(await page.$('img[src="x"]'), null);
      // The review queue names the creator and the account's age; the near duplicates are grouped.
      const created = (await rowCells(page, source.name)).join(' ');
      assert.match(created, /moderated@example\.com, account .+ old/);
      assert.match(created, /new account/);
      const groups = await page.$eval('[aria-label="Near-duplicate groups, newest first"]', (el) => el.innerText);
      for (const text of [source.name, survivor.name, 'near match', 'moderated@example.com']) assert.ok(groups.includes(text), `${text} in ${groups}`);
      await page.screenshot({ path: join(SHOTS, 'catalog-review.png'), fullPage: true });
      // Approve one; the other two in bulk, counting as it goes.
      await pressInRow(page, source.name, 'Approve');
      await eventually('approved', async () => (await reviewed(source.id)).pending === false);
      await settle(page);
      for (const name of [survivor.name, XSS]) await (await one(page, 'checkbox', `Select ${name}`)).click();
      await recordProgress(page);
      await press(page, 'Approve selected');
      await waitText(page, 'Approved 2 of 2 options.');
      assert.deepEqual(await progressSeen(page), ['Approved 1 of 2…']);
      await eventually('both listed', async () => {
        const list = await http('GET', `${instance.http}/v1/options/brand?q=konsole`);
        const names = list.json.items.map((i) => i.name);
        return names.includes(source.name) && names.includes(survivor.name);
      });
      assert.equal((await reviewed(xss.id)).pending, false, 'approved in bulk');
      // Hide and Unhide the HTML-named option, Rename the survivor's spelling and back.
      await pressInRow(page, XSS, 'Hide');
      await eventually('hidden', async () => (await http('GET', `${instance.http}/v1/options/brand/${xss.id}`)).json.hidden === true);
      await pressInRow(page, XSS, 'Unhide');
      await eventually('shown again', async () => (await http('GET', `${instance.http}/v1/options/brand/${xss.id}`)).json.hidden === false);
      await pressInRow(page, survivor.name, 'Rename');
      await fill(page, 'New name', 'Konsole Trucks Renamed');
      await press(page, 'Save name');
      await waitText(page, 'Renamed to Konsole Trucks Renamed');
      await eventually('renamed', async () => (await http('GET', `${instance.http}/v1/options/brand/${survivor.id}`)).json.name === 'Konsole Trucks Renamed');
      await pressInRow(page, 'Konsole Trucks Renamed', 'Rename');
      await fill(page, 'New name', survivor.name);
      await press(page, 'Save name');
      await waitText(page, `Renamed to ${survivor.name}`);
      await pressInRow(page, source.name, 'Merge');
      const survivorSelect = await one(page, 'combobox', 'Survivor');
      await survivorSelect.select(survivor.id);
      await press(page, 'Merge into the survivor');
      await waitText(page, `Merged “${source.name}” into “${survivor.name}”`);
      const audit = await rowWith(page, 'merge').catch(async (err) => {
        console.error(await page.$eval('main', (m) => m.innerText.slice(-3000)));
        throw err;
      });
      assert.match(await audit.evaluate((r) => r.textContent), /merge/);
      const list = await http('GET', `${instance.http}/v1/options/brand?q=konsole`);
      assert.deepEqual(list.json.items.map((i) => i.name), [survivor.name], 'only the survivor is listed');
      const resolved = await http('GET', `${instance.http}/v1/options/brand/${source.id}`);
      assert.equal(resolved.json.id, survivor.id, 'the merged id resolves to the survivor');
      await page.screenshot({ path: join(SHOTS, 'catalog-merged.png'), fullPage: true });

      // Hide selected: two spam names at once, counting as it goes.
      const spam = [await create('Konsole Spam One'), await create('Konsole Spam Two')];
      await page.goto(`${base}/catalog`, { waitUntil: 'networkidle0' });
      for (const option of spam) await (await one(page, 'checkbox', `Select ${option.name}`)).click();
      await recordProgress(page);
      await press(page, 'Hide selected');
      await waitText(page, 'Hidden 2 of 2 options.');
      assert.deepEqual(await progressSeen(page), ['Hidden 1 of 2…']);
      for (const option of spam) assert.equal((await reviewed(option.id)).hidden, true, `${option.name} hidden`);
      seen.clean('catalog');
    });

    await step('Jobs: a failed job is retried from the jobs page; the counts cover every job', async () => {
      // A PNG that is not one: the upload is stored, its photo job fails for good (undecodable).
      const guest = await http('POST', `${instance.http}/v1/uploads/guest-token`, { body: {} });
      assert.equal(guest.status, 200, JSON.stringify(guest.json));
      const bytes = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(512)]);
      const upload = await fetch(`${instance.http}/v1/uploads`, {
        method: 'POST',
        headers: { 'x-upload-token': guest.json.upload_token, 'content-type': 'image/png', 'x-filename': 'broken.png' },
        body: bytes,
      });
      const uploaded = await upload.json();
      assert.equal(upload.status, 201, JSON.stringify(uploaded));
      const job = await eventually('a discarded photo job', async () => {
        const r = await http('GET', `${instance.admin}/admin/jobs?state=discarded&kind=uploads.photo`, { token: instance.token });
        return r.json.jobs[0];
      });
      await page.goto(`${base}/jobs`, { waitUntil: 'networkidle0' });
      await (await one(page, 'combobox', 'State')).select('discarded');
      await fill(page, 'Kind', 'uploads.photo');
      await press(page, 'Filter');
      await press(page, `Open ${job.id.slice(-8)}`);
      await waitText(page, `Job ${job.id}`);
      await waitText(page, 'could not be decoded');
      await press(page, 'Retry');
      await waitText(page, 'retried: it is due now');
      const again = await eventually('a second attempt', async () => {
        const r = await http('GET', `${instance.admin}/admin/jobs/${job.id}`, { token: instance.token });
        return r.json.attempts.length >= 2 ? r.json : null;
      });
      assert.ok(again.attempt >= 2);
      // The counts cover every job, per queue, kind and state, as GET /admin/jobs/counts counts them.
      const counts = await http('GET', `${instance.admin}/admin/jobs/counts`, { token: instance.token });
      const photos = counts.json.counts.filter((c) => c.kind === 'uploads.photo');
      await page.goto(`${base}/jobs`, { waitUntil: 'networkidle0' });
      await waitText(page, "stored, per queue, kind and state");
      const cells = await rowCells(page, 'uploads.photo');
      assert.equal(cells.at(-1), String(photos.reduce((n, c) => n + c.count, 0)), `the photo jobs' total (${cells})`);
      seen.clean('jobs');
    });

    await step('Templates: Export; an Import the server refuses shows the problem\'s title and detail, and each problem of a set that fails its check', async () => {
      await page.goto(`${base}/templates`, { waitUntil: 'networkidle0' });
      await waitText(page, 'degraded.');
      await press(page, 'Export');
      await waitText(page, 'Exported version');
      const refused = await http('POST', `${instance.admin}/admin/templates`, { token: instance.token, body: { bogus: 1 } });
      assert.ok(refused.status >= 400 && refused.json.title && refused.json.detail, JSON.stringify(refused.json));
      await fill(page, 'Template set (JSON)', '{"bogus": 1}');
      await press(page, 'Import');
      await waitText(page, refused.json.title);
      await waitText(page, refused.json.detail);
      // A set that fails the check: each problem is listed, by template and field, and nothing is stored.
      const version = async () => (await http('GET', `${instance.admin}/admin/templates`, { token: instance.token })).json.version;
      const before = await version();
      const bad = { templates: [{ category: 'Trucks', subcategory: 'Box trucks', blocks: [{ name: 'box', fields: [
        { name: 'tail_lift', type: 'boolean', label: 'Tail lift', requiredIf: { '==': [{ var: 'colour' }, 'red'] } }] }] }] };
      await fill(page, 'Template set (JSON)', JSON.stringify(bad));
      await press(page, 'Import');
      await waitText(page, 'Trucks / Box trucks / tail_lift:');
      assert.equal(await version(), before, 'a refused import stores nothing');
      // The refused imports are the expected failures.
      const expected = seen.take();
      assert.ok(expected.every((p) => /HTTP 4\d\d: POST .*\/admin\/templates|status of 4\d\d/.test(p)), expected.join('\n'));
    });

    await step('Fleet after the drills: the rotated keys, and the charts once two scrapes are in', async () => {
      await page.goto(`${base}/fleet`, { waitUntil: 'networkidle0' });
      await waitText(page, 'Fleet keys: agrees');
      await waitText(page, 'since this page opened; last interval', 15_000);
      await page.screenshot({ path: join(SHOTS, 'fleet-after.png'), fullPage: true });
      seen.clean('fleet after');
    });

    await step('Forms: a session through the preview, the browser runtime and the server agreeing at every step', async () => {
      // The admin listener's copies of the public routes answer as the public ones, and only with the token.
      const trucks = (await http('GET', `${instance.http}/v1/options/category?q=trucks`)).json.items.find((o) => o.name === 'Trucks');
      const publicForm = await http('GET', `${instance.http}/v1/templates/${trucks.id}`);
      const adminForm = await http('GET', `${instance.admin}/admin/forms/v1/templates/${trucks.id}`, { token: instance.token });
      assert.equal(adminForm.status, 200);
      assert.deepEqual(adminForm.json, publicForm.json);
      assert.equal((await http('GET', `${instance.admin}/admin/forms/v1/templates/${trucks.id}`)).status, 401);
      await page.goto(`${base}/forms`, { waitUntil: 'networkidle0' });
      await page.waitForSelector('h1::-p-text(Forms)');
      /** Picks the option labelled `text` in the select named `name`, once the option is there. */
      const choose = async (name, text) => {
        const value = await eventually(`"${text}" in ${name}`, async () => {
          const select = await one(page, 'combobox', name);
          return select.evaluate((el, t) => [...el.options].find((o) => o.textContent === t)?.value ?? null, text);
        });
        const select = await one(page, 'combobox', name);
        await select.select(value);
      };
      const same = async (where) => {
        const status = await page.$eval('[role="status"]', (n) => n.textContent);
        assert.match(status, /No difference between the browser and the server/, `${where}: ${status}`);
        const marked = await page.$$eval('td .badge', (els) => els.filter((e) => e.textContent === 'differs').length);
        assert.equal(marked, 0, `${where}: parts marked as differing`);
      };
      await choose('Category', 'Trucks');
      await choose('Subcategory', 'Tipper trucks');
      await choose('Locale', 'English (en)');
      await press(page, 'Show form');
      await one(page, 'combobox', 'Brand (required)');
      await waitText(page, 'No difference between the browser and the server');
      await same('the empty form');
      await choose('Brand (required)', 'Volvo');
      await choose('Model (required)', 'FH');
      await same('brand and model');
      await choose('Condition (required)', 'Damaged');
      await one(page, 'textbox', 'Describe the damage (required)');
      await same('a field shown by a condition');
      await fill(page, 'Describe the damage (required)', '  dented tipper  ');
      await page.keyboard.press('Tab');
      await fill(page, 'Mileage (km) (required)', 'many');
      await page.keyboard.press('Tab');
      await waitText(page, 'mileage_km: invalid_type');
      await same('a value of the wrong type');
      // Another brand resets the model: both sides say so.
      await choose('Brand (required)', 'Scania');
      await page.waitForFunction(() => document.body.innerText.includes('model') && /Reset[\s\S]*model/.test(document.body.innerText));
      await same('a cascading reset');
      await page.screenshot({ path: join(SHOTS, 'forms-filled.png'), fullPage: true });
      violations['forms (filled)'] = await axeScan(page, 'forms (filled)');
      // Another category: the values carried over, the same on both sides.
      await choose('Category', 'Trailers');
      await press(page, 'Show form');
      await waitText(page, 'Carried over');
      await same('the carry-over to Trailers');
      // In German (the Locale drives ?lang= for both sides): the labels are the template's German ones and the
      // messages the server's German texts, rendered by the browser runtime from the form's `messages` — and
      // still no difference.
      await choose('Locale', 'Deutsch (de)');
      await press(page, 'Show form');
      await one(page, 'combobox', 'Marke (required)');
      await one(page, 'textbox', 'Achsen (required)');
      await waitText(page, 'required: Achsen ist ein Pflichtfeld');
      await waitText(page, 'No difference between the browser and the server');
      await same('the form in German');
      await fill(page, 'Achsen (required)', 'viele');
      await page.keyboard.press('Tab');
      await waitText(page, 'invalid_type: Achsen muss');
      await same('a value of the wrong type, in German');
      await page.screenshot({ path: join(SHOTS, 'forms-german.png'), fullPage: true });
      seen.clean('forms');
    });

    await step('a 401 returns to the token field', async () => {
      await page.goto(`${base}/fleet`, { waitUntil: 'networkidle0' });
      await page.evaluate(() => sessionStorage.setItem('gantry.console.adminToken', 'stale-token'));
      await page.goto(`${base}/jobs`, { waitUntil: 'networkidle0' });
      await one(page, 'textbox', 'Admin token');
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
      seen.take();
    });

    console.log(`axe-core: violations of minor or moderate impact per page: ${JSON.stringify(violations)}`);
    console.log(`screenshots: ${SHOTS}`);
    console.log(`console browser test: ${results.length} checks passed`);
  } finally {
    await browser.close();
    instance.proc.kill('SIGTERM');
  }
}

main().catch((err) => {
  console.error(`console browser test FAILED: ${err.stack ?? err}`);
  process.exit(1);
});

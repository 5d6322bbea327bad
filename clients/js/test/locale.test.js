// Languages against the real server (target/debug/gantry, or GANTRY_BIN; skipped, saying so, when it is not
// built; CI sets FORMS_SERVER_REQUIRED): the locale asked for with `?lang=` (the client's `lang`) and with `Accept-Language` (what a browser
// sends when `lang` is not set) both come back in the form's `locale`, the form carries that locale's message
// texts, the package's errors are the server's word for word, and option names come in the locale.
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { createClient, MESSAGES } from '../src/index.js';
import { startInstance } from '../../../tests/shared/instance.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = resolve(root, process.env.GANTRY_BIN ?? 'target/debug/gantry');
// Skipped (saying so) without a binary, unless FORMS_SERVER_REQUIRED is set (CI): then the start fails.
const skip = existsSync(bin) || process.env.FORMS_SERVER_REQUIRED ? false : `${bin} is not built (cargo build --bin gantry)`;

let instance;
before(async () => {
  if (!skip) instance = await startInstance(bin, { prefix: 'gantry-forms-locale-', env: { GANTRY_LOG: 'warn' } });
});
after(() => {
  if (!instance) return;
  instance.proc.kill('SIGTERM');
  setTimeout(() => rmSync(instance.work, { recursive: true, force: true }), 500).unref();
});

/** A client that sends `accept-language` on every request (as a browser does), and `lang` when given. */
const clientWith = (acceptLanguage, lang) => createClient({
  baseUrl: instance.http,
  lang,
  fetch: (url, init = {}) => fetch(url, { ...init, headers: { ...init.headers, ...(acceptLanguage ? { 'accept-language': acceptLanguage } : {}) } }),
});

/** The first bundled form with a required field, its English twin, and the errors of an empty form both ways. */
async function emptyForm(client) {
  const english = createClient({ baseUrl: instance.http, lang: 'en' });
  for (const category of (await english.listOptions('category')).items) {
    const form = await client.loadForm(category.id);
    const required = form.fields.find((cf) => cf.field.required === true);
    if (!required) continue;
    const [server, browser] = await Promise.all([client.evaluateRemote(form, {}), client.evaluate(form, {})]);
    return { form, english: await english.loadForm(category.id), required: required.field, server, browser };
  }
  throw new Error('no bundled form has a required field');
}

for (const [how, acceptLanguage, lang, expected] of [
  ['?lang=de', null, 'de', 'de'],
  ['Accept-Language: pl-PL,pl;q=0.9,en;q=0.5', 'pl-PL,pl;q=0.9,en;q=0.5', undefined, 'pl'],
  ['?lang=ru over Accept-Language: de', 'de', 'ru', 'ru'],
]) {
  test(`${how}: the form, its messages and the package's errors are in ${expected}, the server's word for word`, { skip }, async () => {
    const client = clientWith(acceptLanguage, lang);
    const { form, english, required, server, browser } = await emptyForm(client);
    assert.equal(form.form.locale, expected);
    // The texts come from the server's table, not from the package: none is its English fallback.
    for (const [key, text] of Object.entries(MESSAGES)) assert.notEqual(form.form.messages[key], text, key);
    assert.deepEqual(browser, server);
    const error = browser.errors.find((e) => e.field === required.name && e.code === 'required');
    assert.ok(error, JSON.stringify(browser.errors));
    assert.ok(error.message.includes(required.label), `${error.message} names ${required.label}`);
    const englishLabel = english.field(required.name).label;
    assert.notEqual(error.message, MESSAGES.required.replace('{label}', englishLabel));
  });
}

test('option names come in the locale asked for, by ?lang= and by Accept-Language', { skip }, async () => {
  const names = async (client) => new Map((await client.listOptions('country')).items.map((o) => [o.id, o.name]));
  const [en, de, pl] = await Promise.all([names(clientWith(null, 'en')), names(clientWith(null, 'de')), names(clientWith('pl', undefined))]);
  const germany = [...en].find(([, name]) => name === 'Germany')?.[0];
  assert.ok(germany, 'the seeded countries include Germany');
  assert.equal(de.get(germany), 'Deutschland');
  assert.equal(pl.get(germany), 'Niemcy');
});

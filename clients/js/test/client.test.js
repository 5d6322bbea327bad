// The HTTP side against a real HTTP server standing in for the option routes: lists loaded whole through their
// pages and cached, `?lang=` on every request, and a stale list load cancelled when the parent changes.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';

import { createClient, openForm } from '../src/index.js';

const BRANDS = ['0193a8b2-7c1d-7e3f-8a9b-000000000001', '0193a8b2-7c1d-7e3f-8a9b-000000000002'];
const model = (brand, n) => `${brand.slice(0, 30)}00000${brand.slice(-1)}${n}`;

async function server() {
  const seen = [];
  const closed = [];
  const evaluated = [];
  const http = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    seen.push(url.pathname + url.search);
    const json = (body) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/v1/templates/cat') {
      return json({ category_id: 'cat', template: 'T', version: 1, blocks: [{ name: 'b', fields: [
        { name: 'brand', type: 'select', label: 'Brand', dataSource: { kind: 'brand' } },
        { name: 'model', type: 'select', label: 'Model', dataSource: { kind: 'model', parentField: 'brand' } },
      ] }] });
    }
    if (url.pathname === '/v1/templates/vin') {
      return json({ category_id: 'vin', template: 'V', version: 1, blocks: [{ name: 'b', fields: [
        { name: 'code', type: 'text', label: 'Code', validation: { pattern: '\\bAB\\b.*' } },
      ] }] });
    }
    if (url.pathname === '/v1/templates/vin/evaluate') {
      evaluated.push(url.pathname);
      return json({ visible: ['code'], required: [], reset: [], errors: [{ field: 'code', code: 'pattern_mismatch', message: 'Code is not in the expected format' }], options: {} });
    }
    if (url.pathname === '/v1/options/brand') return json({ items: BRANDS.map((id) => ({ id, name: id, parent_id: null })), version: 1 });
    if (url.pathname === '/v1/options/model') {
      const parent = url.searchParams.get('parent_id');
      const cursor = url.searchParams.get('cursor');
      const page = cursor ? [model(parent, 2)] : [model(parent, 1)];
      const respond = () => json({ items: page.map((id) => ({ id, name: id, parent_id: parent })), version: 1, ...(cursor ? {} : { next_cursor: page[0] }) });
      // The first brand's models are slow: the user picks the other brand before they arrive.
      if (parent === BRANDS[0]) {
        req.on('close', () => closed.push(parent));
        setTimeout(() => res.writableEnded || res.destroyed || respond(), 2_000);
        return undefined;
      }
      return respond();
    }
    res.statusCode = 404;
    return json({ code: 'not_found' });
  });
  await new Promise((ok) => http.listen(0, '127.0.0.1', ok));
  return { http, seen, closed, evaluated, url: `http://127.0.0.1:${http.address().port}` };
}

test('a list is loaded whole through its pages, once, with ?lang= on every request', async () => {
  const s = await server();
  try {
    const client = createClient({ baseUrl: s.url, lang: 'de-AT' });
    const list = await client.listOptions('model', BRANDS[1]);
    assert.deepEqual(list.items.map((o) => o.id), [model(BRANDS[1], 1), model(BRANDS[1], 2)]);
    await client.listOptions('model', BRANDS[1]);
    assert.equal(s.seen.filter((p) => p.startsWith('/v1/options/model')).length, 2, 'two pages, then the cache');
    assert.ok(s.seen.every((p) => p.includes('lang=de-AT')), s.seen.join(' '));
  } finally {
    s.http.close();
  }
});

test('changing the parent cancels the stale list load and shows the new parent\'s list', async () => {
  const s = await server();
  try {
    const client = createClient({ baseUrl: s.url });
    const session = await openForm(client, { categoryId: 'cat' });
    await session.set('brand', BRANDS[0]);
    assert.equal(session.optionsOf('model'), null, 'loading');
    await session.set('brand', BRANDS[1]);
    for (let i = 0; i < 50 && session.optionsOf('model') === null; i += 1) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(session.optionsOf('model').map((o) => o.id), [model(BRANDS[1], 1), model(BRANDS[1], 2)]);
    for (let i = 0; i < 50 && s.closed.length === 0; i += 1) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(s.closed, [BRANDS[0]], 'the first brand\'s request was aborted');
    session.close();
  } finally {
    s.http.close();
    s.http.closeAllConnections();
  }
});

test('a pattern with no faithful JavaScript translation is left to the server: the session takes its answer', async () => {
  const s = await server();
  try {
    const client = createClient({ baseUrl: s.url });
    const session = await openForm(client, { categoryId: 'vin' });
    const local = await client.evaluate(session.form, { code: 'ABC' });
    assert.deepEqual(local.unchecked, ['code'], 'the browser alone cannot tell');
    await session.set('code', 'ABC');
    assert.deepEqual(session.errorOf('code'), { field: 'code', code: 'pattern_mismatch', message: 'Code is not in the expected format' });
    assert.ok(s.evaluated.length >= 1, 'asked the server');
  } finally {
    s.http.close();
  }
});

// The HTTP side: forms, option lists (loaded whole through their pages and cached per kind and parent), the
// look-ups an evaluation needs, the server's own evaluate and submit. Every request carries the caller's
// locale as `?lang=` when one is set, and the caller's access token when one is set (pending options are their
// creator's alone).

import { asSent, carryOver, checkValues, compileForm, OPTION_KINDS, resolveValues, settle, shortenName, unreadable } from './runtime.js';
import { rustDebugString } from './rust.js';

/** An answer of the API that is not a success: `status`, and the problem+json body (`code`, `errors`…). */
export class FormsError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.name = 'FormsError';
    this.status = status;
    this.problem = problem;
    this.code = problem?.code;
  }
}

const PAGE = 500;

/**
 * A client of one Gantry public listener.
 * @param {object} options
 * @param {string} options.baseUrl the public listener (`https://api.example.com`)
 * @param {object} [options.jsonLogic] the json-logic-js engine (default: `globalThis.jsonLogic`, which the
 *   browser build of json-logic-js sets; the package's main entry passes the one it imports)
 * @param {string} [options.lang] sent as `?lang=` on every request
 * @param {string | (() => string | null)} [options.token] an access token (or a function giving the current one)
 * @param {typeof fetch} [options.fetch]
 * @param {number} [options.listTtlMs] how long a loaded option list is kept (default 60 s, the lists' max-age)
 * @param {Record<string, string>} [options.messages] message templates replacing the built-in English ones
 */
export function createClient(options) {
  const baseUrl = String(options.baseUrl ?? '').replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const jsonLogic = options.jsonLogic ?? globalThis.jsonLogic;
  const listTtlMs = options.listTtlMs ?? 60_000;
  const lists = new Map();
  const resolved = new Map();
  let lang = options.lang ?? null;

  const token = () => (typeof options.token === 'function' ? options.token() : options.token ?? null);

  function url(path, query = {}, inLang = null) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined) params.set(k, String(v));
    if (inLang ?? lang) params.set('lang', inLang ?? lang);
    const q = params.toString();
    return `${baseUrl}${path}${q ? `?${q}` : ''}`;
  }

  async function request(method, path, { query, body, signal, lang: inLang } = {}) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const bearer = token();
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    const response = await doFetch(url(path, query, inLang), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!response.ok) throw new FormsError(response.status, json);
    return json;
  }

  /** One option list, whole (every page), or `null` when its parent is unknown (422 `parent_id` `not_found`). */
  async function fetchList(kind, parentId, signal) {
    const items = [];
    let cursor = null;
    let version = null;
    for (;;) {
      let page;
      try {
        page = await request('GET', `/v1/options/${encodeURIComponent(kind)}`, {
          query: { parent_id: parentId, limit: PAGE, cursor },
          signal,
        });
      } catch (e) {
        if (e instanceof FormsError && e.status === 422 && e.problem?.errors?.some((x) => x.field === 'parent_id')) return null;
        throw e;
      }
      items.push(...page.items);
      version = page.version;
      if (!page.next_cursor) return { kind, parent_id: parentId, items, version };
      cursor = page.next_cursor;
    }
  }

  const client = {
    get baseUrl() {
      return baseUrl;
    },
    get lang() {
      return lang;
    },
    /** Changes the locale sent as `?lang=` (option lists are cached per locale: the cache is dropped). */
    setLang(next) {
      lang = next ?? null;
      lists.clear();
    },
    request,

    /** `GET /v1/templates/{category_id}?subcategory_id=`: the form, compiled for evaluation. */
    async loadForm(categoryId, subcategoryId = null, { signal } = {}) {
      const form = await request('GET', `/v1/templates/${encodeURIComponent(categoryId)}`, {
        query: { subcategory_id: subcategoryId },
        signal,
      });
      return compileForm(form, { jsonLogic, messages: options.messages });
    },

    /**
     * An option list (`GET /v1/options/{kind}?parent_id=`, every page), cached per (kind, parent) for
     * `listTtlMs`. Aborting `signal` abandons this caller's wait (and the request, when nobody else waits).
     * @returns {Promise<{kind: string, parent_id: string|null, items: object[], version: number} | null>}
     */
    listOptions(kind, parentId = null, { signal } = {}) {
      const key = `${kind} ${parentId ?? ''}`;
      let entry = lists.get(key);
      if (entry && Date.now() - entry.at > listTtlMs) {
        lists.delete(key);
        entry = undefined;
      }
      if (!entry) {
        const controller = new AbortController();
        entry = { at: Date.now(), controller, waiting: 0 };
        entry.promise = fetchList(kind, parentId, controller.signal).catch((e) => {
          if (lists.get(key) === entry) lists.delete(key);
          throw e;
        });
        lists.set(key, entry);
      }
      return waitFor(entry, signal, () => {
        if (lists.get(key) === entry) lists.delete(key);
      });
    },

    /** Drops every cached option list (after the catalog changed). */
    clearCache() {
      lists.clear();
      resolved.clear();
    },

    /** `GET /v1/options/{kind}/{id}`: the option an id stands for (after a merge, the survivor), or `null`;
     * its name in `lang` when given, else in the client's. */
    async resolveOption(kind, id, { signal, lang: inLang = null } = {}) {
      const key = `${kind} ${id} ${inLang ?? ''}`;
      if (!resolved.has(key)) {
        const promise = request('GET', `/v1/options/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`, { signal, lang: inLang }).catch((e) => {
          resolved.delete(key);
          if (e instanceof FormsError && e.status === 404) return null;
          throw e;
        });
        resolved.set(key, promise);
      }
      return resolved.get(key);
    },

    /** What one check finds: the option `check.id` stands for in its list, or `null` (the server's look-up). */
    async lookUp(check, { signal } = {}) {
      let list = await client.listOptions(check.list.kind, check.list.parent_id, { signal });
      if (list === null && check.list.parent_id !== null) {
        // A parent merged away: its children are under the option it was merged into.
        const parent = await client.resolveOption(OPTION_KINDS[check.list.kind], check.list.parent_id, { signal });
        list = parent?.merged_from ? await client.listOptions(check.list.kind, parent.id, { signal }) : null;
      }
      if (list === null) return null;
      const direct = list.items.find((o) => o.id === check.id);
      if (direct) return { id: direct.id, name: direct.name };
      const merged = await client.resolveOption(check.list.kind, check.id, { signal });
      if (!merged?.merged_from) return null;
      const survivor = list.items.find((o) => o.id === merged.id);
      return survivor ? { id: survivor.id, name: survivor.name } : null;
    },

    /**
     * Evaluates `form` for `values` in the browser, with the server's answer: `{visible, required, reset,
     * errors, options, carried_over?}` (and `unchecked`: fields whose pattern only the server can check).
     * @param {object} form a compiled form (`loadForm`)
     * @param {object} values field name → value
     * @param {{changed?: string|string[], from?: object, signal?: AbortSignal, thisYear?: number}} [opts]
     *   `from`: the compiled form the values were filled in (the category or subcategory changed)
     */
    async evaluate(form, values, { changed, from, signal, thisYear } = {}) {
      const { evaluation, checks, unchecked } = await client.check(form, values, { changed, from, signal, thisYear, values: false });
      if (unchecked.length > 0) evaluation.unchecked = unchecked;
      return evaluation;
    },

    /** `evaluate`, plus the clean values a submit would store (options as `{id, name}`). */
    async check(form, values, { changed, from, signal, thisYear, values: wanted = true } = {}) {
      // The server reads the body first: what it cannot read is refused before anything is checked.
      if (unreadable(values ?? {}) || unreadable(changed ?? null)) {
        throw new FormsError(400, { code: 'malformed_json', detail: 'a string holds half of a surrogate pair' });
      }
      const names = changedList(changed);
      const unknown = names.find((n) => form.field(n) === undefined);
      if (unknown !== undefined) {
        throw new FormsError(422, {
          code: 'validation_failed',
          errors: [{ field: 'changed', code: 'unknown_field', message: `this form has no field ${rustDebugString(shortenName(unknown))}` }],
        });
      }
      let state = asSent(values);
      let carried;
      if (from) {
        carried = carryOver(form, from, state);
        state = carried.values;
      }
      const checked = checkValues(form, state, names, thisYear);
      let found = await Promise.all(checked.checks.map((c) => client.lookUp(c, { signal })));
      // A submit's clean values are language-neutral: options named in the deployment's language, whatever the
      // form's. In another locale the names come from a look-up in that language.
      const neutral = form.form.default_locale;
      if (wanted && typeof neutral === 'string' && neutral !== form.form.locale) {
        found = await Promise.all(found.map(async (option, n) => {
          if (!option) return option;
          const own = await client.resolveOption(checked.checks[n].list.kind, option.id, { signal, lang: neutral });
          return own ? { id: option.id, name: own.name } : option;
        }));
      }
      const resolvedNames = settle(form, checked.evaluation, checked.checks, found);
      const evaluation = checked.evaluation;
      if (carried) evaluation.carried_over = carried;
      return { evaluation, values: resolveValues(form, checked.values, resolvedNames), unchecked: checked.unchecked, checks: checked.checks };
    },

    /** The server's own evaluate (`POST /v1/templates/{category_id}/evaluate`). */
    evaluateRemote(form, values, { changed, from, signal } = {}) {
      const body = { values: values ?? {} };
      if (form.form.subcategory_id) body.subcategory_id = form.form.subcategory_id;
      if (changed !== undefined && changed !== null) body.changed = changed;
      if (from) body.from = { category_id: from.form.category_id, ...(from.form.subcategory_id ? { subcategory_id: from.form.subcategory_id } : {}) };
      return request('POST', `/v1/templates/${encodeURIComponent(form.form.category_id)}/evaluate`, { body, signal });
    },

    /**
     * `POST /v1/templates/{category_id}/submit`: the final check and the contract to store. 422 is a
     * `FormsError` whose `problem.errors` lists every problem.
     */
    submit(form, values, { signal } = {}) {
      const body = { values: values ?? {} };
      if (form.form.subcategory_id) body.subcategory_id = form.form.subcategory_id;
      return request('POST', `/v1/templates/${encodeURIComponent(form.form.category_id)}/submit`, { body, signal });
    },
  };
  return client;
}

function changedList(changed) {
  if (changed === undefined || changed === null) return [];
  return Array.isArray(changed) ? changed : [changed];
}

/** Waits for a shared list load; an aborted caller stops waiting, and the load is cancelled when nobody waits. */
function waitFor(entry, signal, forget) {
  if (!signal) {
    entry.waiting += 1;
    return entry.promise.finally(() => {
      entry.waiting -= 1;
    });
  }
  if (signal.aborted) return Promise.reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
  entry.waiting += 1;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      entry.waiting -= 1;
      if (entry.waiting === 0) {
        entry.controller.abort();
        forget();
      }
      reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    entry.promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        entry.waiting -= 1;
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        entry.waiting -= 1;
        reject(e);
      },
    );
  });
}

// The console's only way to the server: the documented admin API (openapi/admin.json), with the admin token
// from sessionStorage as `Authorization: Bearer`. Every failure becomes a ProblemError carrying the problem's
// title and detail; a 401 also forgets the token and hands control back to the token field.

const KEY = 'gantry.console.adminToken';

/** The token typed into the page, if any (sessionStorage: gone with the tab, never a cookie or a URL). */
export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(value) {
  sessionStorage.setItem(KEY, value);
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}

/** An error answer (application/problem+json), or a request that never got one. */
export class ProblemError extends Error {
  constructor(status, problem) {
    super(problem.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.title = problem.title ?? `HTTP ${status}`;
    this.detail = problem.detail ?? '';
    this.code = problem.code ?? null;
  }
}

let unauthorized = () => {};

/** What happens on a 401 (the app returns to the token field). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

async function problemOf(response) {
  try {
    const body = await response.json();
    if (body && typeof body === 'object') return body;
  } catch {
    // not JSON: described below
  }
  return { title: `HTTP ${response.status}`, detail: response.statusText || 'The server answered without a problem description.' };
}

/**
 * Calls the admin API.
 * @param {string} method
 * @param {string} path e.g. `/admin/fleet`
 * @param {unknown} [body] sent as JSON
 * @param {{auth?: boolean, tokenOverride?: string}} [options]
 * @returns {Promise<any>} the JSON answer (null for 204)
 */
export async function call(method, path, body, options = {}) {
  const headers = { accept: 'application/json' };
  const bearer = options.tokenOverride ?? token();
  if (options.auth !== false && bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch (err) {
    throw new ProblemError(0, { title: 'The server could not be reached', detail: String(err?.message ?? err) });
  }
  if (response.status === 401) {
    const problem = await problemOf(response);
    forgetToken();
    unauthorized(problem);
    throw new ProblemError(401, problem);
  }
  if (!response.ok) throw new ProblemError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') ?? '';
  return type.includes('json') ? response.json() : response.text();
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body);
export const patch = (path, body) => call('PATCH', path, body);
export const del = (path) => call('DELETE', path);

/** A query string from the defined values of `params`. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') search.set(k, v);
  const text = search.toString();
  return text ? `?${text}` : '';
}

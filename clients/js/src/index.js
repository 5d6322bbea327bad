// @gantry/forms: the browser runtime of Gantry's listing forms. This entry brings json-logic-js (2.0.5, the
// engine the server is proven against) along; `@gantry/forms/runtime` is the same without it, for pages that
// load json-logic-js's browser build themselves (it sets `globalThis.jsonLogic`).

import jsonLogic from 'json-logic-js';

import { createClient as createBareClient } from './client.js';

export { FormsError } from './client.js';
export { FormSession, openForm } from './session.js';
export { carryOver, checkValues, compileForm, isEmpty, MESSAGES, OPTION_KINDS, settle } from './runtime.js';
export { STEP_BUDGET } from './conditions.js';

/**
 * A client of one Gantry public listener, with json-logic-js as its condition engine.
 * @param {Parameters<typeof createBareClient>[0]} options
 */
export function createClient(options) {
  return createBareClient({ jsonLogic, ...options });
}

export { jsonLogic };

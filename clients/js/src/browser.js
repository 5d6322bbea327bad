// @gantry/forms/runtime: the runtime without a bundled condition engine. Load json-logic-js's browser build
// (`logic.js`, which sets `globalThis.jsonLogic`) first, or pass `jsonLogic` to `createClient`.

export { createClient, FormsError } from './client.js';
export { FormSession, openForm } from './session.js';
export { carryOver, checkValues, compileForm, isEmpty, MESSAGES, OPTION_KINDS, settle } from './runtime.js';
export { STEP_BUDGET } from './conditions.js';

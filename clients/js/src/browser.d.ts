import type { ClientOptions, FormsClient } from './types.js';

export * from './types.js';
/** A client of one Gantry public listener; `jsonLogic` defaults to `globalThis.jsonLogic`. */
export declare function createClient(options: ClientOptions): FormsClient;

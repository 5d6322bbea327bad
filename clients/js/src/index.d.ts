import type { ClientOptions, FormsClient, JsonLogicEngine } from './types.js';

export * from './types.js';
/** A client of one Gantry public listener, with json-logic-js 2.0.5 as its condition engine. */
export declare function createClient(options: ClientOptions): FormsClient;
/** The json-logic-js engine this entry uses. */
export declare const jsonLogic: JsonLogicEngine & { add_operation(name: string, fn: (...args: any[]) => unknown): void };

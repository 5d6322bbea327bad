// The package's types. Request and response shapes come from the OpenAPI document (api-types.d.ts, generated
// by openapi-typescript from openapi/public.json; never written by hand).

import type { components } from './api-types.js';

type Schemas = components['schemas'];

/** A form as `GET /v1/templates/{category_id}` serves it. */
export type Form = Schemas['Form'];
/** One field of a form. */
export type FormField = Schemas['FormField'];
/** One block of a form. */
export type FormBlock = Schemas['FormBlock'];
/** `{field, code, message}`. */
export type FieldError = Schemas['FieldError'];
/** An option list to load: `{kind, parent_id}`. */
export type OptionList = Schemas['OptionList'];
/** What `carried_over` says. */
export type CarryOver = Schemas['CarryOver'];
/** An option of a list. */
export type CatalogOption = Schemas['Option'];
/** The contract `submit` answers. */
export type Submitted = Schemas['Submitted'];
/** What evaluate answers (the server's `Evaluation`); `unchecked` names the fields whose pattern JavaScript
 * cannot express faithfully, left to the server. */
export type Evaluation = Omit<Schemas['Evaluation'], 'options' | 'carried_over'> & {
  options: Record<string, OptionList>;
  carried_over?: CarryOver;
  unchecked?: string[];
};

/** Field name → value, as a form holds them (ids of catalog options as strings). */
export type Values = Record<string, unknown>;

/** The json-logic-js engine (the part the runtime uses). */
export interface JsonLogicEngine {
  apply(logic: unknown, data?: unknown): unknown;
  truthy(value: unknown): boolean;
}

/** A form compiled for evaluation. */
export interface CompiledForm {
  readonly form: Form;
  /** The field called `name`. */
  field(name: string): FormField | undefined;
  readonly fields: ReadonlyArray<{ readonly field: FormField }>;
}

/** A check the server's look-ups make: is `id` an option of `list`? */
export interface OptionCheck {
  field: string;
  list: OptionList;
  id: string;
}

export interface ClientOptions {
  /** The public listener, e.g. `https://api.example.com`. */
  baseUrl: string;
  /** The json-logic-js engine (the main entry passes json-logic-js 2.0.5; `@gantry/forms/runtime` defaults to
   * `globalThis.jsonLogic`, set by json-logic-js's browser build). */
  jsonLogic?: JsonLogicEngine;
  /** Sent as `?lang=` on every request. */
  lang?: string | null;
  /** An access token, or a function giving the current one. */
  token?: string | null | (() => string | null);
  fetch?: typeof fetch;
  /** How long an option list is kept (default 60,000 ms). */
  listTtlMs?: number;
  /** Message templates replacing the built-in English ones (keys of `MESSAGES`). */
  messages?: Partial<Record<keyof typeof MESSAGES, string>>;
}

export interface EvaluateOptions {
  /** The field (or fields) the user just changed. */
  changed?: string | string[] | null;
  /** The form the values were filled in, when the category or subcategory changed. */
  from?: CompiledForm;
  signal?: AbortSignal;
  /** The current year (default: UTC), which bounds `year` fields. */
  thisYear?: number;
}

export interface LoadedList {
  kind: string;
  parent_id: string | null;
  items: CatalogOption[];
  version: number;
}

export interface FormsClient {
  readonly baseUrl: string;
  readonly lang: string | null;
  setLang(lang: string | null): void;
  loadForm(categoryId: string, subcategoryId?: string | null, options?: { signal?: AbortSignal }): Promise<CompiledForm>;
  /** A whole option list (every page), cached per kind and parent; `null` when the parent is unknown. */
  listOptions(kind: string, parentId?: string | null, options?: { signal?: AbortSignal }): Promise<LoadedList | null>;
  resolveOption(kind: string, id: string, options?: { signal?: AbortSignal; lang?: string | null }): Promise<(CatalogOption & { hidden: boolean; merged_from?: string }) | null>;
  clearCache(): void;
  /** The browser's evaluation, with the server's semantics (option ids looked up in the loaded lists). */
  evaluate(form: CompiledForm, values: Values, options?: EvaluateOptions): Promise<Evaluation>;
  /** `evaluate`, plus the clean values a submit would store. */
  check(form: CompiledForm, values: Values, options?: EvaluateOptions): Promise<{ evaluation: Evaluation; values: Values; unchecked: string[]; checks: OptionCheck[] }>;
  /** The server's evaluate. */
  evaluateRemote(form: CompiledForm, values: Values, options?: Omit<EvaluateOptions, 'thisYear'>): Promise<Evaluation>;
  /** The server's final check; rejects with a `FormsError` (422 lists every problem). */
  submit(form: CompiledForm, values: Values, options?: { signal?: AbortSignal }): Promise<Submitted>;
  request(method: string, path: string, options?: { query?: Record<string, unknown>; body?: unknown; signal?: AbortSignal }): Promise<unknown>;
}

export declare class FormsError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly problem: (Schemas['Problem'] & { errors?: FieldError[] }) | null;
}

export declare class FormSession {
  readonly client: FormsClient;
  form: CompiledForm;
  values: Values;
  evaluation: Evaluation | null;
  set(name: string, value: unknown): Promise<Evaluation>;
  refresh(changed?: string[]): Promise<Evaluation>;
  isVisible(name: string): boolean;
  isRequired(name: string): boolean;
  errorOf(name: string): FieldError | null;
  /** Fixed options as `{id: value, name: label}`, or the loaded catalog list; `null` while loading or before
   * the parent is chosen. */
  optionsOf(name: string): Array<{ id: string; name: string }> | null;
  changeCategory(categoryId: string, subcategoryId?: string | null): Promise<Evaluation>;
  submit(): Promise<Submitted>;
  close(): void;
}

export declare function openForm(
  client: FormsClient,
  options: { categoryId: string; subcategoryId?: string | null; values?: Values; onChange?: (session: FormSession) => void },
): Promise<FormSession>;

export declare const MESSAGES: Readonly<{
  required: string; not_text: string; not_boolean: string; not_number: string; not_whole: string; not_list: string;
  not_option: string; too_long: string; pattern_mismatch: string; below_min: string; above_max: string; not_an_id: string;
  parent_missing: string; not_a_choice: string; no_such_option: string; no_such_option_under_parent: string;
  unknown_field: string; more_unknown_fields: string;
}>;
export declare const OPTION_KINDS: Readonly<Record<'category' | 'subcategory' | 'brand' | 'model' | 'country' | 'city', string | null>>;
export declare const STEP_BUDGET: number;
export declare function compileForm(form: Form, options: { jsonLogic: JsonLogicEngine; messages?: ClientOptions['messages'] }): CompiledForm;
export declare function checkValues(form: CompiledForm, values: Values, changed?: string[], thisYear?: number): { evaluation: Evaluation; checks: OptionCheck[]; values: Values; unchecked: string[] };
export declare function settle(form: CompiledForm, evaluation: Evaluation, checks: OptionCheck[], found: Array<{ id: string; name: string } | null>): Map<string, { id: string; name: string }>;
export declare function carryOver(form: CompiledForm, previous: CompiledForm, values: Values): CarryOver;
export declare function isEmpty(value: unknown): boolean;

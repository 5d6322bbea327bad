// A form being filled: the values so far, the evaluation after each change (in the browser, with the server's
// semantics), the option lists each select needs — loaded when the evaluation names them, the stale load
// cancelled (AbortController) when a parent changes before its children's list arrived — and the carry-over
// when the user picks another category or subcategory.

/**
 * Opens a form session.
 * @param {ReturnType<import('./client.js').createClient>} client
 * @param {{categoryId: string, subcategoryId?: string|null, values?: object, onChange?: (session: object) => void}} options
 */
export async function openForm(client, { categoryId, subcategoryId = null, values = {}, onChange } = {}) {
  const session = new FormSession(client, onChange);
  session.form = await client.loadForm(categoryId, subcategoryId);
  session.values = { ...values };
  await session.refresh([]);
  return session;
}

export class FormSession {
  constructor(client, onChange) {
    this.client = client;
    this.onChange = onChange ?? (() => {});
    this.form = null;
    this.values = {};
    /** The last evaluation (`visible`, `required`, `reset`, `errors`, `options`, `carried_over`?). */
    this.evaluation = null;
    /** Per select field: `{key, items}` once loaded, `{key, loading: true}` meanwhile. */
    this.lists = {};
    this.loads = new Map();
    this.generation = 0;
  }

  /** Sets one field's value (`undefined` clears it) and evaluates with `changed: [name]`. */
  async set(name, value) {
    if (value === undefined) delete this.values[name];
    else this.values[name] = value;
    return this.refresh([name]);
  }

  /** Evaluates the values as they are (after the fields in `changed` changed); fields the evaluation resets
   * lose their values; the option lists it names are loaded. */
  async refresh(changed = []) {
    const generation = ++this.generation;
    let evaluation = await this.client.evaluate(this.form, this.values, { changed });
    // A pattern JavaScript cannot express faithfully: the server's answer instead.
    if (evaluation.unchecked) evaluation = await this.client.evaluateRemote(this.form, this.values, { changed });
    if (generation !== this.generation) return this.evaluation; // a later change answered first
    for (const name of evaluation.reset) delete this.values[name];
    this.evaluation = evaluation;
    this.loadLists(evaluation.options);
    this.onChange(this);
    return evaluation;
  }

  /** Whether a field shows now. */
  isVisible(name) {
    return this.evaluation?.visible.includes(name) ?? false;
  }

  /** Whether a field must be filled now. */
  isRequired(name) {
    return this.evaluation?.required.includes(name) ?? false;
  }

  /** The error of one field, if any. */
  errorOf(name) {
    return this.evaluation?.errors.find((e) => e.field === name) ?? null;
  }

  /** The options of a select: fixed ones, or the loaded catalog list (`null` while loading or before its parent
   * is chosen). */
  optionsOf(name) {
    const field = this.form.field(name);
    if (!field) return null;
    if (!field.dataSource) return (field.options ?? []).map((o) => ({ id: o.value, name: o.label }));
    return this.lists[name]?.items ?? null;
  }

  loadLists(options) {
    for (const [name, list] of Object.entries(options)) {
      const key = `${list.kind} ${list.parent_id ?? ''}`;
      if (this.lists[name]?.key === key) continue;
      // The parent changed: the list on its way is stale.
      this.loads.get(name)?.abort();
      const controller = new AbortController();
      this.loads.set(name, controller);
      this.lists[name] = { key, loading: true, items: null };
      this.client
        .listOptions(list.kind, list.parent_id, { signal: controller.signal })
        .then((loaded) => {
          if (controller.signal.aborted) return;
          this.loads.delete(name);
          this.lists[name] = { key, loading: false, items: loaded?.items ?? [] };
          this.onChange(this);
        })
        .catch((e) => {
          if (controller.signal.aborted) return;
          this.loads.delete(name);
          this.lists[name] = { key, loading: false, items: null, error: e };
          this.onChange(this);
        });
    }
  }

  /** Moves the values to the form of another category or subcategory; what was kept and dropped is in
   * `evaluation.carried_over`. */
  async changeCategory(categoryId, subcategoryId = null) {
    const previous = this.form;
    const next = await this.client.loadForm(categoryId, subcategoryId);
    const generation = ++this.generation;
    let evaluation = await this.client.evaluate(next, this.values, { from: previous });
    if (evaluation.unchecked) evaluation = await this.client.evaluateRemote(next, this.values, { from: previous });
    if (generation !== this.generation) return this.evaluation;
    for (const controller of this.loads.values()) controller.abort();
    this.loads.clear();
    this.lists = {};
    this.form = next;
    this.values = { ...evaluation.carried_over.values };
    this.evaluation = evaluation;
    this.loadLists(evaluation.options);
    this.onChange(this);
    return evaluation;
  }

  /** The server's final check; resolves to the contract to store, or rejects with a `FormsError` (422 lists
   * every problem). */
  submit() {
    return this.client.submit(this.form, this.values);
  }

  /** Stops every load under way. */
  close() {
    for (const controller of this.loads.values()) controller.abort();
    this.loads.clear();
  }
}

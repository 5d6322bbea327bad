// Conditions (`visibleIf`, `requiredIf`) are JsonLogic, evaluated by json-logic-js itself — the engine the
// server's evaluator is proven against. Two bounds the server puts on every evaluation are added around it, so
// that a hostile value cannot make the browser answer differently: a step budget (every `apply`, including the
// engine's own recursion, is one step; past 20,000 the condition does not hold) and a recursion depth of 128.

/** Steps one condition may take (the server's `STEP_BUDGET`). */
export const STEP_BUDGET = 20_000;
/** How deep one evaluation may recurse (the server's `MAX_DEPTH`). */
export const MAX_DEPTH = 128;

class Exhausted extends Error {}

const runners = new WeakMap();

/**
 * A `holds(logic, data)` function over the json-logic-js `engine`: `truthy(apply(logic, data))`, false where
 * the engine throws or the bounds are passed. The engine's `apply` is wrapped once (a no-op outside `holds`:
 * json-logic-js recurses through `jsonLogic.apply`, which is how the steps are counted).
 * @param {{apply: Function, truthy: Function}} engine
 * @returns {(logic: unknown, data: Record<string, unknown>) => boolean}
 */
export function conditionRunner(engine) {
  if (!engine || typeof engine.apply !== 'function' || typeof engine.truthy !== 'function') {
    throw new TypeError('a json-logic-js engine (with apply and truthy) is required');
  }
  const known = runners.get(engine);
  if (known) return known;
  const original = engine.apply;
  let meter = null;
  engine.apply = function apply(logic, data) {
    if (meter === null) return original.call(this, logic, data);
    if (meter.steps === 0) throw new Exhausted('step budget');
    meter.steps -= 1;
    meter.depth += 1;
    try {
      if (meter.depth > MAX_DEPTH) throw new Exhausted('too deep');
      return original.call(this, logic, data);
    } finally {
      meter.depth -= 1;
    }
  };
  const holds = (logic, data) => {
    const outer = meter;
    meter = { steps: STEP_BUDGET, depth: 0 };
    try {
      return engine.truthy(engine.apply(logic, data));
    } catch {
      return false;
    } finally {
      meter = outer;
    }
  };
  runners.set(engine, holds);
  return holds;
}

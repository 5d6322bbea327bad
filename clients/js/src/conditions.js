// Conditions (`visibleIf`, `requiredIf`) are JsonLogic, evaluated by json-logic-js itself — the engine the
// server's evaluator is proven against. Two bounds the server puts on every evaluation are added around it, so
// that a hostile value cannot make the browser answer differently: a step budget (past 20,000 steps the
// condition does not hold) and a recursion depth of 128.
//
// A step is one `apply` of a node of the condition, as the server counts them. json-logic-js recurses through
// `jsonLogic.apply`, so wrapping it counts the same calls — except two the server does not make: `missing` and
// `missing_some` apply objects they build themselves (`{"var": key}`, `{"missing": options}`), and those
// objects' plain arguments. Nodes are therefore told apart by identity: objects of the condition count, objects
// json-logic-js built do not, nor do the scalars such an object applies. The differential test finds where
// the server runs out of steps on long lists and checks both sides stop at the same element.

/** Steps one condition may take (the server's `STEP_BUDGET`). */
export const STEP_BUDGET = 20_000;
/** How deep one evaluation may recurse (the server's `MAX_DEPTH`). */
export const MAX_DEPTH = 128;

class Exhausted extends Error {}

const runners = new WeakMap();
const nodeSets = new WeakMap();

/** Every object and array of a condition (what the server's evaluator sees as nodes). */
const NO_NODES = new WeakSet();

function nodesOf(logic) {
  if (logic === null || typeof logic !== 'object') return NO_NODES;
  let nodes = nodeSets.get(logic);
  if (nodes) return nodes;
  nodes = new WeakSet();
  const walk = (node) => {
    if (node === null || typeof node !== 'object' || nodes.has(node)) return;
    nodes.add(node);
    for (const child of Array.isArray(node) ? node : Object.values(node)) walk(child);
  };
  walk(logic);
  nodeSets.set(logic, nodes);
  return nodes;
}

/**
 * A `holds(logic, data)` function over the json-logic-js `engine`: `truthy(apply(logic, data))`, false where
 * the engine throws or the bounds are passed. The engine's `apply` is wrapped once (a plain pass-through
 * outside `holds`).
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
    const object = logic !== null && typeof logic === 'object';
    // An object json-logic-js built (not an array: the server walks arrays of keys as it does).
    const built = object && !Array.isArray(logic) && !meter.nodes.has(logic);
    const counted = !built && !(meter.insideBuilt && !object);
    if (counted) {
      if (meter.steps === 0) throw new Exhausted('step budget');
      meter.steps -= 1;
      meter.depth += 1;
    }
    const outer = meter.insideBuilt;
    meter.insideBuilt = built;
    try {
      if (meter.depth > MAX_DEPTH) throw new Exhausted('too deep');
      return original.call(this, logic, data);
    } finally {
      meter.insideBuilt = outer;
      if (counted) meter.depth -= 1;
    }
  };
  const holds = (logic, data) => {
    const outer = meter;
    meter = { steps: STEP_BUDGET, depth: 0, insideBuilt: false, nodes: nodesOf(logic) };
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

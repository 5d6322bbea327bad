// Conditions (`visibleIf`, `requiredIf`) are JsonLogic, evaluated by json-logic-js itself — the engine the
// server's evaluator is proven against. Two bounds the server puts on every evaluation are added around it, so
// that a hostile value cannot make the browser answer differently: a step budget (past 20,000 steps the
// condition does not hold) and a recursion depth of 128.
//
// A step is one `apply` of a node of the condition, as the server counts them. json-logic-js recurses through
// `jsonLogic.apply`, so wrapping it counts the same calls — except two the server does not make: `missing` and
// `missing_some` apply objects they build themselves (`{"var": key}`, `{"missing": options}`), and those
// objects' plain arguments. Nodes are therefore told apart by identity: objects of the condition count, objects
// json-logic-js built do not, nor do the scalars such an object applies. Copies are charged as the server
// charges them, one step per 64 units: every `Array.prototype.join` (`cat`, and every array turned into a
// string: comparisons, arithmetic, `in`, `substr`), by the UTF-8 bytes it makes; `merge`, by the elements of
// its result; `substr`, by the UTF-16 units of its source. (The two built-ins are replaced only while a
// condition runs, which is synchronous; where they cannot be — frozen intrinsics — copies go uncharged.) The
// differential test finds where the server runs out of steps on long lists of every shape and checks both
// sides stop at the same element.

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
  const charge = (units) => {
    if (meter !== null) meter.steps = Math.max(0, meter.steps - Math.floor(units / 64));
  };
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
    const op = counted && object && !Array.isArray(logic) ? Object.keys(logic) : [];
    const substr = op.length === 1 && op[0] === 'substr';
    if (substr) meter.substr.push(true);
    const outer = meter.insideBuilt;
    meter.insideBuilt = built;
    try {
      if (meter.depth > MAX_DEPTH) throw new Exhausted('too deep');
      const result = original.call(this, logic, data);
      if (op.length === 1 && op[0] === 'merge' && Array.isArray(result)) charge(result.length);
      return result;
    } finally {
      meter.insideBuilt = outer;
      if (substr) meter.substr.pop();
      if (counted) meter.depth -= 1;
    }
  };
  const holds = (logic, data) => {
    const outer = meter;
    meter = { steps: STEP_BUDGET, depth: 0, insideBuilt: false, nodes: nodesOf(logic), substr: [] };
    const restore = chargeCopies(charge, () => meter);
    try {
      return engine.truthy(engine.apply(logic, data));
    } catch {
      return false;
    } finally {
      restore();
      meter = outer;
    }
  };
  runners.set(engine, holds);
  return holds;
}

const LONE = /\p{Cs}/u;

/** The units the server counts for a string it made: UTF-8 bytes, or UTF-16 units when it is not well formed. */
function copied(text) {
  if (LONE.test(text)) return text.length;
  let bytes = 0;
  for (const c of text) {
    const p = c.codePointAt(0);
    bytes += p < 0x80 ? 1 : p < 0x800 ? 2 : p < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** Replaces `Array.prototype.join` and `String.prototype.substr` by charging versions while a condition runs;
 * returns what puts them back. */
function chargeCopies(charge, current) {
  const join = Array.prototype.join;
  const substr = String.prototype.substr;
  try {
    Array.prototype.join = function chargedJoin(separator) {
      const out = join.call(this, separator);
      charge(copied(out));
      return out;
    };
    String.prototype.substr = function chargedSubstr(start, length) {
      const stack = current()?.substr;
      if (stack && stack.length > 0 && stack[stack.length - 1]) {
        // The op's source, once (json-logic-js cuts a second time for a negative length; the server does not charge that).
        stack[stack.length - 1] = false;
        charge(this.length);
      }
      return substr.call(this, start, length);
    };
  } catch {
    // Frozen intrinsics: copies go uncharged.
  }
  return () => {
    try {
      Array.prototype.join = join;
      String.prototype.substr = substr;
    } catch {
      // as above
    }
  };
}

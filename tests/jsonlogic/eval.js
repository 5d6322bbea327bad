// Evaluates a table of JsonLogic cases with json-logic-js (pinned by package-lock.json) for the conformance
// test in main.rs. Reads a JSON array of [logic, data] from the file named by argv[2]; prints a JSON array of
// {"value": exact, "truthy": bool} or {"error": message}, one per case. `exact` keeps what JSON.stringify
// would lose: undefined, NaN, ±Infinity, -0 and strings that are not well formed as {"$js": …}, objects as
// {"$object": {…}} (so an object answer never reads as a tag).
"use strict";
const fs = require("fs");
const jsonLogic = require("json-logic-js");

// json-logic-js's `log` prints with console.log; the answers go to stdout, so the prints go nowhere.
console.log = () => {};

function encode(v) {
  if (v === undefined) return { $js: "undefined" };
  if (v === null || typeof v === "boolean") return v;
  if (typeof v === "number") {
    if (Number.isNaN(v)) return { $js: "NaN" };
    if (v === Infinity) return { $js: "Infinity" };
    if (v === -Infinity) return { $js: "-Infinity" };
    if (Object.is(v, -0)) return { $js: "-0" };
    return v;
  }
  if (typeof v === "string") {
    if (v.isWellFormed()) return v;
    const units = [];
    for (let i = 0; i < v.length; i++) units.push(v.charCodeAt(i));
    return { $js: "string", units };
  }
  if (typeof v === "function") return { $js: "function" };
  if (Array.isArray(v)) return v.map(encode);
  const out = {};
  for (const k of Object.keys(v)) {
    Object.defineProperty(out, k, { value: encode(v[k]), enumerable: true, writable: true, configurable: true });
  }
  return { $object: out };
}

const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = cases.map(([logic, data]) => {
  try {
    const value = jsonLogic.apply(logic, data);
    return { value: encode(value), truthy: jsonLogic.truthy(value) };
  } catch (e) {
    return { error: String(e && e.message) };
  }
});
process.stdout.write(JSON.stringify(out));

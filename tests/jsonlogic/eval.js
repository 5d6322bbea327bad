// Evaluates a table of JsonLogic cases with json-logic-js (pinned by package-lock.json) for the conformance
// test in main.rs. Reads a JSON array of [logic, data] from the file named by argv[2]; prints a JSON array of
// {"value": result} or {"error": message}, one per case.
"use strict";
const fs = require("fs");
const jsonLogic = require("json-logic-js");

const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = cases.map(([logic, data]) => {
  try {
    const value = jsonLogic.apply(logic, data);
    return { value: value === undefined ? null : value, truthy: jsonLogic.truthy(value) };
  } catch (e) {
    return { error: String(e && e.message) };
  }
});
process.stdout.write(JSON.stringify(out));

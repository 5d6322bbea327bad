// Generates src/api-types.d.ts from openapi/public.json with openapi-typescript (pinned by package-lock.json).
// `--check` (CI) generates into a temporary folder and fails when the checked-in file differs.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const spec = resolve(pkg, '../../openapi/public.json');
const target = join(pkg, 'src/api-types.d.ts');
const check = process.argv.includes('--check');
const work = check ? mkdtempSync(join(tmpdir(), 'gantry-api-types-')) : null;
const out = check ? join(work, 'api-types.d.ts') : target;
const bin = join(pkg, 'node_modules/.bin/openapi-typescript');
const run = spawnSync(bin, [spec, '--output', out], { cwd: pkg, encoding: 'utf8' });
if (run.status !== 0) {
  console.error(run.stdout, run.stderr);
  process.exit(1);
}
if (check) {
  const same = readFileSync(out, 'utf8') === readFileSync(target, 'utf8');
  rmSync(work, { recursive: true, force: true });
  if (!same) {
    console.error('clients/js/src/api-types.d.ts is not what openapi-typescript makes of openapi/public.json: run `npm run generate` in clients/js and commit it');
    process.exit(1);
  }
  console.log('clients/js/src/api-types.d.ts matches openapi/public.json');
}

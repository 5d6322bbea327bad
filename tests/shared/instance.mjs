// A fresh local-profile Gantry for node tests (the console's browser test, the forms package's differential
// test): the binary started in a temporary folder on free ports, with no GANTRY_ variable or secret of the
// caller's environment leaking in, ready once /readyz answers 200 and the admin token file exists.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A port nobody listens on now. */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/**
 * Starts `bin serve`; `env` adds settings. Resolves to `{proc, work, http, admin, token}` (the listeners' URLs,
 * the generated admin token, the folder holding data/ and server.log).
 * @param {string} bin
 * @param {{env?: Record<string, string>, prefix?: string}} [options]
 */
export async function startInstance(bin, { env: extra = {}, prefix = 'gantry-test-' } = {}) {
  if (!existsSync(bin)) throw new Error(`no gantry binary at ${bin}: build it (cargo build --bin gantry)`);
  const work = mkdtempSync(join(tmpdir(), prefix));
  const [pub, adm] = [await freePort(), await freePort()];
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GANTRY_')
    && !['JWT_SECRET', 'UPLOAD_GUEST_TOKEN_SECRET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'].includes(k)));
  Object.assign(env, { GANTRY_HTTP_ADDR: `127.0.0.1:${pub}`, GANTRY_ADMIN_ADDR: `127.0.0.1:${adm}` }, extra);
  const log = openSync(join(work, 'server.log'), 'w');
  const proc = spawn(bin, ['serve'], { cwd: work, env, stdio: ['ignore', log, log] });
  const instance = { proc, work, http: `http://127.0.0.1:${pub}`, admin: `http://127.0.0.1:${adm}` };
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`the instance exited (${proc.exitCode}); log: ${work}/server.log`);
    try {
      const ready = await fetch(`${instance.http}/readyz`);
      const tokenFile = join(work, 'data/secrets/GANTRY_ADMIN_TOKEN');
      if (ready.status === 200 && existsSync(tokenFile)) {
        instance.token = readFileSync(tokenFile, 'utf8').trim();
        return instance;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  proc.kill('SIGKILL');
  throw new Error('the instance did not become ready within 90 s');
}

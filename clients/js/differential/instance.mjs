// A real local-profile Gantry for the differential test: started here from a binary (GANTRY_BIN, default
// target/debug/gantry at the repository's root) in a fresh folder on free ports — or, with
// GANTRY_PUBLIC_URL, GANTRY_ADMIN_URL and GANTRY_ADMIN_TOKEN set, one that is already running.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

function freePort() {
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

/** @returns {Promise<{http: string, admin: string, token: string, stop: () => void, log?: string}>} */
export async function startInstance(root) {
  if (process.env.GANTRY_PUBLIC_URL) {
    return {
      http: process.env.GANTRY_PUBLIC_URL.replace(/\/+$/, ''),
      admin: (process.env.GANTRY_ADMIN_URL ?? '').replace(/\/+$/, ''),
      token: process.env.GANTRY_ADMIN_TOKEN ?? '',
      stop() {},
    };
  }
  const bin = resolve(root, process.env.GANTRY_BIN ?? 'target/debug/gantry');
  if (!existsSync(bin)) throw new Error(`no gantry binary at ${bin}: build it (cargo build --bin gantry) or set GANTRY_BIN`);
  const work = mkdtempSync(join(tmpdir(), 'gantry-forms-'));
  const [pub, adm] = [await freePort(), await freePort()];
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GANTRY_')
    && !['JWT_SECRET', 'UPLOAD_GUEST_TOKEN_SECRET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'].includes(k)));
  Object.assign(env, {
    GANTRY_HTTP_ADDR: `127.0.0.1:${pub}`,
    GANTRY_ADMIN_ADDR: `127.0.0.1:${adm}`,
    GANTRY_LOG: process.env.FORMS_SERVER_LOG ?? 'warn',
  });
  const log = openSync(join(work, 'server.log'), 'w');
  const proc = spawn(bin, ['serve'], { cwd: work, env, stdio: ['ignore', log, log] });
  const instance = {
    http: `http://127.0.0.1:${pub}`,
    admin: `http://127.0.0.1:${adm}`,
    log: join(work, 'server.log'),
    stop(keep = false) {
      proc.kill('SIGTERM');
      if (!keep) setTimeout(() => rmSync(work, { recursive: true, force: true }), 500).unref();
    },
  };
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`the instance exited (${proc.exitCode}); log: ${instance.log}`);
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

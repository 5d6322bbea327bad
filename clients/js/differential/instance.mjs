// A real local-profile Gantry for the differential test: started here from a binary (GANTRY_BIN, default
// target/debug/gantry at the repository's root) in a fresh folder on free ports (tests/shared/instance.mjs) —
// or, with GANTRY_PUBLIC_URL, GANTRY_ADMIN_URL and GANTRY_ADMIN_TOKEN set, one that is already running.

import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { startInstance as startGantry } from '../../../tests/shared/instance.mjs';

/** @returns {Promise<{http: string, admin: string, token: string, stop: (keep?: boolean) => void, log?: string}>} */
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
  const started = await startGantry(bin, { prefix: 'gantry-forms-', env: { GANTRY_LOG: process.env.FORMS_SERVER_LOG ?? 'warn' } });
  return {
    ...started,
    log: join(started.work, 'server.log'),
    stop(keep = false) {
      started.proc.kill('SIGTERM');
      if (!keep) setTimeout(() => rmSync(started.work, { recursive: true, force: true }), 500).unref();
    },
  };
}

import { SHARED_SERVERS_KEY } from './jest-global-setup';
import { type ServerProcess } from './server-process';
import { SHARED_INFRA_ENV } from './shared-infra';

/** Jest globalTeardown: stops the per-run servers and removes their folders. */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as Record<symbol, ServerProcess[] | undefined>;
  const servers = holder[SHARED_SERVERS_KEY] ?? [];
  delete holder[SHARED_SERVERS_KEY];
  for (const name of Object.values(SHARED_INFRA_ENV)) delete process.env[name];
  const results = await Promise.allSettled(servers.map((s) => s.dispose()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(__dirname, '..');
const compose = (...args: string[]) =>
  execFileSync('docker-compose', ['-f', 'docker-compose.yml', ...args], { cwd: root, encoding: 'utf8' });

/**
 * No Docker engine runs here: the cluster file is validated, not run (DESIGN §9). docker-compose 1.29
 * (Debian) parses and checks it; scripts/install-infra.sh installs it when PARLEY_NEED_COMPOSE=1.
 */
describe('docker-compose.yml', () => {
  it('is valid and describes the cluster: three NATS servers, MySQL, Redis, two actor hosts, projector, gateway', () => {
    compose('config', '-q');
    expect(compose('config', '--services').trim().split('\n').sort()).toEqual(
      ['actors1', 'actors2', 'gateway', 'mysql', 'nats1', 'nats2', 'nats3', 'projector', 'redis'].sort(),
    );
    const config = compose('config');
    // Every app streams at three replicas across the three servers.
    expect(config.match(/IM_STREAM_REPLICAS: '3'/g)).toHaveLength(4);
    expect(config.match(/--cluster_name\s+parley/g)).toHaveLength(3);
    expect(config).toContain('nats:2.10');
    // Every one of the nine services has a healthcheck (apps without a port use the heartbeat file).
    expect(config.match(/^ {4}healthcheck:/gm)).toHaveLength(9);
    expect(config.match(/parley-health/g)?.length).toBeGreaterThanOrEqual(3 + 4);
  });

  it('gives each app its own NATS user, defined with least-privilege permissions in deploy/nats/nats.conf', () => {
    const config = compose('config');
    expect(config.match(/parley\.conf:ro/g)).toHaveLength(3);
    expect(config.match(/-c \/etc\/nats\/parley\.conf/g)).toHaveLength(3);
    for (const user of ['actors', 'projector', 'gateway']) {
      expect(config).toMatch(
        new RegExp(`NATS_URL: nats://${user}:[^@]+@nats1:4222,nats://${user}:[^@]+@nats2:4222`),
      );
    }
    const natsConf = readFileSync(resolve(root, 'deploy/nats/nats.conf'), 'utf8');
    for (const user of ['actors', 'projector', 'gateway', 'services'])
      expect(natsConf).toContain(`user: ${user}, password: $NATS_${user.toUpperCase()}_PASSWORD`);
    // Only actor hosts may append events or take partition traffic.
    expect(natsConf.match(/"im\.evt\.>"/g)?.length).toBe(3); // actors publish; gateway, services subscribe
    expect(config.match(/IM_PARTITIONS: '32'/g)).toHaveLength(2);
  });
});

import { execFileSync } from 'node:child_process';
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
    expect(config.match(/--cluster_name parley/g)).toHaveLength(3);
    expect(config).toContain('nats:2.10');
  });
});

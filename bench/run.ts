/**
 * `npm run bench`: runs every benchmark on private servers, prints one table and writes
 * bench/results/<timestamp>.json. Not part of `npm test`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { activationBench } from './activation.bench';
import { actorsBench } from './actors.bench';
import { baselineBench } from './baseline.bench';
import { groupSizeBench } from './group-size.bench';
import { httpBench } from './http.bench';
import { memoryBench } from './memory.bench';
import { projectionLagBench, projectionsBench } from './projections.bench';
import { type BenchRow } from './lib';
import { readSubjectBench } from './read-subject.bench';

const BENCHES: Record<string, () => Promise<BenchRow[]>> = {
  'read-subject': readSubjectBench,
  activation: activationBench,
  actors: actorsBench,
  baseline: baselineBench,
  'group-size': groupSizeBench,
  projections: async () => [...(await projectionsBench()), ...(await projectionLagBench())],
  http: httpBench,
  memory: memoryBench,
};

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const rows: BenchRow[] = [];
  for (const [name, bench] of Object.entries(BENCHES)) {
    if (only.length > 0 && !only.includes(name)) continue;
    process.stderr.write(`bench ${name}…\n`);
    rows.push(...(await bench()));
  }
  console.table(
    rows.map((r) => ({ ...r, value: r.value < 10 ? Number(r.value.toFixed(3)) : Math.round(r.value) })),
  );
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), machine, rows }, null, 2));
  console.log(`written ${file}`);
  process.exit(0);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});

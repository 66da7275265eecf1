// Start-up of the `pricealert` command: `--help` to exit, and `pricealert store` to its connection string
// (listening), each 10 times, through tsx from source (as before the build) and compiled (dist/ on an
// install without tsx, built from the current source), beside `node -e 0`, the floor of any Node process.
// Beside the wall time, the CPU time the process used (all its threads; Linux /proc): on a machine
// shared with other work the wall time grows with the load, the CPU time much less.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildPackage, userEnv } from '../test/helpers/build.ts';
import { fmt, report, summarize } from './stats.ts';

const RUNS = 10;
const REPO_BIN = join(import.meta.dirname, '../bin/pricealert.js');

interface Path {
  readonly name: string;
  readonly args: (args: string[]) => string[];
  readonly env: NodeJS.ProcessEnv;
}

interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number;
}

/** Fields of /proc/<pid>/stat after the command name, which may itself hold spaces. */
const statFields = (stat: string): string[] => stat.slice(stat.lastIndexOf(')') + 2).split(' ');
/** Clock ticks of 10 ms (USER_HZ = 100). */
const ticks = (fields: string[], ...at: number[]): number =>
  at.reduce((sum, i) => sum + Number(fields[i]), 0) * 10;

/**
 * A run to its exit, through `sh`, whose children's CPU time (cutime + cstime in its own stat) is
 * the command's once it has been waited for.
 */
function toExit(path: Path, args: string[]): Promise<Sample> {
  const started = performance.now();
  const child = spawn(
    'sh',
    ['-c', '"$@" > /dev/null || exit 1; cat /proc/$$/stat', 'sh', process.execPath, ...path.args(args)],
    { env: path.env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) reject(new Error(`${path.name} ${args.join(' ')} exited with ${code}`));
      else resolve({ wallMs, cpuMs: ticks(statFields(out), 13, 14) });
    }),
  );
}

/** `pricealert store` until it prints its connection string; then it is stopped. */
async function storeStart(path: Path): Promise<Sample> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-bench-start-'));
  const started = performance.now();
  const child = spawn(process.execPath, path.args(['store', '--port', '0', '--data', dataDir]), {
    env: path.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    return await new Promise<Sample>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (!/^esdb:\/\//m.test(out)) return;
        const wallMs = performance.now() - started;
        resolve({
          wallMs,
          cpuMs: ticks(statFields(readFileSync(`/proc/${child.pid}/stat`, 'utf8')), 11, 12),
        });
      });
      void exited.then((code) => reject(new Error(`${path.name} store exited with ${code}`)));
    });
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const built = await buildPackage();
try {
  const floor: Path = { name: 'node -e 0', args: () => ['-e', '0'], env: userEnv() };
  const tsx: Path = {
    name: 'tsx (from source)',
    args: (args) => [REPO_BIN, ...args],
    env: userEnv({ PRICEALERT_FROM_SOURCE: '1' }),
  };
  const compiled: Path = { name: 'compiled (dist)', args: (args) => [built.bin, ...args], env: userEnv() };

  const samples = new Map<string, Sample[]>();
  const add = (label: string, sample: Sample): void => {
    samples.set(label, [...(samples.get(label) ?? []), sample]);
  };
  // One untimed round first (disk cache), then the paths in turn, so that noise falls on all alike.
  for (let round = -1; round < RUNS; round += 1) {
    const record = round >= 0 ? add : (): void => {};
    record(floor.name, await toExit(floor, []));
    for (const path of [tsx, compiled]) {
      record(`pricealert --help, ${path.name}`, await toExit(path, ['--help']));
      record(`pricealert store to listening, ${path.name}`, await storeStart(path));
    }
  }

  process.stdout.write(`${RUNS} runs each; wall median / p99 (of ${RUNS}: the slowest), then CPU median\n`);
  for (const [label, values] of samples) {
    const wall = summarize(values.map((sample) => sample.wallMs));
    const cpu = summarize(values.map((sample) => sample.cpuMs));
    const target = label.endsWith('compiled (dist)')
      ? label.includes('--help')
        ? '< 300 ms'
        : '< 500 ms'
      : undefined;
    report(label, `${fmt(wall.p50, 0)} ms / ${fmt(wall.p99, 0)} ms, CPU ${fmt(cpu.p50, 0)} ms`, target);
  }
} finally {
  built.remove();
}

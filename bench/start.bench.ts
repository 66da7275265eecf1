// Start-up of the `pricealert` command: `--help` to exit, and `pricealert store` to its connection string
// (listening), each 10 times, through tsx from source (as before the build) and compiled (dist/ on an
// install without tsx, built from the current source), beside `node -e 0`, the floor of any Node process.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildPackage, userEnv } from '../test/helpers/build.ts';
import { fmt, report, summarize } from './stats.ts';

const RUNS = 10;
const REPO_BIN = join(import.meta.dirname, '../bin/pricealert.js');

interface Path {
  readonly name: string;
  readonly command: (args: string[]) => string[];
  readonly env: NodeJS.ProcessEnv;
}

/** Milliseconds from spawn until `done` says the output is there (or, without it, until exit). */
async function timed(path: Path, args: string[], until?: RegExp): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, path.command(args), {
    env: path.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let out = '';
  const reached = new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (until?.test(out)) resolve(performance.now() - started);
    });
    void exited.then((code) =>
      until || code !== 0
        ? reject(new Error(`${path.name} ${args.join(' ')} exited with ${code}`))
        : resolve(performance.now() - started),
    );
  });
  try {
    return await reached;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

async function storeStart(path: Path): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-bench-start-'));
  try {
    return await timed(path, ['store', '--port', '0', '--data', dataDir], /^esdb:\/\//m);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const built = await buildPackage();
try {
  const floor: Path = { name: 'node -e 0', command: () => ['-e', '0'], env: userEnv() };
  const tsx: Path = {
    name: 'tsx (from source)',
    command: (args) => [REPO_BIN, ...args],
    env: userEnv({ PRICEALERT_FROM_SOURCE: '1' }),
  };
  const compiled: Path = { name: 'compiled (dist)', command: (args) => [built.bin, ...args], env: userEnv() };

  const samples = new Map<string, number[]>();
  const add = (label: string, ms: number): void => {
    samples.set(label, [...(samples.get(label) ?? []), ms]);
  };
  // One untimed round first (disk cache), then the paths in turn, so that noise falls on all alike.
  for (let round = -1; round < RUNS; round += 1) {
    const record = round >= 0 ? add : (): void => {};
    record(floor.name, await timed(floor, []));
    for (const path of [tsx, compiled]) {
      record(`pricealert --help, ${path.name}`, await timed(path, ['--help']));
      record(`pricealert store to listening, ${path.name}`, await storeStart(path));
    }
  }

  process.stdout.write(`${RUNS} runs each; median / p99 (of ${RUNS}: the slowest)\n`);
  for (const [label, values] of samples) {
    const { p50, p99 } = summarize(values);
    const target = label.endsWith('compiled (dist)')
      ? label.includes('--help')
        ? '< 300 ms'
        : '< 500 ms'
      : undefined;
    report(label, `${fmt(p50, 0)} ms / ${fmt(p99, 0)} ms`, target);
  }
} finally {
  built.remove();
}

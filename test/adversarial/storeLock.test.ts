// A data dir's lock against what really happens to processes: kill -9 and an immediate restart, a
// pid reused by another program, two nodes racing for one dir.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openStore } from '../../src/eventstore/connect.ts';
import { appendToStream, connectClient } from '../../src/eventstore/store.ts';
import { createLogger } from '../../src/logger.ts';
import { runCli, type CliRun } from '../helpers/cli.ts';

const BIN = join(import.meta.dirname, '../../bin/pricealert.js');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pricealert-lock-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function store(dataDir: string): CliRun {
  const cli = runCli(['store', '--port', '0', '--data', dataDir]);
  cleanups.push(() => cli.kill());
  return cli;
}

async function appendVia(connectionString: string, stream: string): Promise<bigint> {
  const client = connectClient(connectionString);
  try {
    const { revision } = await appendToStream(client, stream, { type: 'Restarted', data: {} });
    return revision;
  } finally {
    await client.dispose();
  }
}

describe('the data dir lock', () => {
  it('lets a node start right after the previous one was killed with SIGKILL, every time', async () => {
    const dataDir = tempDir();
    let previous: CliRun | undefined;
    const lines: string[] = [];
    for (let round = 0; round < 12; round += 1) {
      // Not waiting for the killed process to be reaped: its pid may still be alive as a zombie.
      if (previous) previous.child.kill('SIGKILL');
      const next = store(dataDir);
      const line = (await next.stdout).trim();
      expect(line, next.stderr()).toMatch(/^esdb:\/\//);
      lines.push(line);
      previous = next;
    }
    expect(await appendVia(lines.at(-1)!, 'restarts')).toBe(0n);
  }, 120_000);

  it('lets openStore start its own node while the killed one is still an unreaped zombie', async () => {
    const dataDir = tempDir();
    // `exec sleep` leaves the node's parent a process that never reaps it.
    const parent = spawn(
      'sh',
      ['-c', `"$0" "$1" store --port 0 --data "$2" & exec sleep 60`, process.execPath, BIN, dataDir],
      { env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanups.push(() => {
      parent.kill('SIGKILL');
    });
    const line = await new Promise<string>((resolve) => {
      let out = '';
      parent.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
    });
    await appendVia(line, 'serve-after-kill');
    const { pid } = JSON.parse(readFileSync(join(dataDir, 'node.lock'), 'utf8')) as { pid: number };
    process.kill(pid, 'SIGKILL');
    // A zombie: dead, its files (and so its locks and its port) released, its pid not yet reaped.
    while (
      !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')) ||
      readdirSync(`/proc/${pid}/fd`).length > 0
    )
      await new Promise((resolve) => setTimeout(resolve, 10));

    const handle = await openStore(loadConfig({ PRICEALERT_DATA_DIR: dataDir }), createLogger('silent'));
    cleanups.push(() => handle.close());
    expect(handle.embedded).toBeDefined();
    const result = await appendToStream(handle.client, 'serve-after-kill', { type: 'Restarted', data: {} });
    expect(result.revision).toBe(1n);
  });

  it('takes over a lock naming a live process that is not a node', async () => {
    const dataDir = tempDir();
    writeFileSync(
      join(dataDir, 'node.lock'),
      JSON.stringify({ pid: process.pid, connectionString: 'esdb://127.0.0.1:1?tls=false' }),
    );
    const handle = await openStore(loadConfig({ PRICEALERT_DATA_DIR: dataDir }), createLogger('silent'));
    cleanups.push(() => handle.close());
    expect(handle.embedded).toBeDefined();
    expect(JSON.parse(readFileSync(join(dataDir, 'node.lock'), 'utf8'))).toEqual({
      pid: handle.embedded!.pid,
      connectionString: handle.connectionString,
    });
    await appendToStream(handle.client, 'taken-over', { type: 'Mine', data: {} });
  });

  it('never lets two of many nodes started at once open the same data dir', async () => {
    const dataDir = tempDir();
    const racers = Array.from({ length: 4 }, () => store(dataDir));
    const codes = await Promise.all(
      racers.map(async (racer) => {
        const line = (await racer.stdout).trim();
        return line.startsWith('esdb://') ? 'running' : await racer.exit;
      }),
    );
    expect(codes.filter((code) => code === 'running')).toHaveLength(1);
    expect(codes.filter((code) => code === 2)).toHaveLength(3);
  });
});

// `pricealert serve` and `pricealert token` as a user runs them: child processes on a fresh data dir.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, gql, settled, subscribe } from '../api/harness.ts';

const BIN = join(import.meta.dirname, '../../bin/pricealert.js');
const run = promisify(execFile);

let dataDir: string;
let server: ChildProcess;
let url: string;
let exited: Promise<number | null>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pricealert-serve-'));
  server = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      PORT: '0',
      PRICEALERT_DATA_DIR: dataDir,
      PRICEALERT_FEED: 'none',
      LOG_LEVEL: 'warn',
      EVENTSTORE_URL: '',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  exited = new Promise((resolve) => server.once('exit', (code) => resolve(code)));
  url = await new Promise<string>((resolve, reject) => {
    let output = '';
    server.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /GraphiQL at (\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code} before listening: ${output}`)));
  });
}, 60_000);

afterAll(async () => {
  if (server.exitCode === null) server.kill('SIGKILL');
  await exited;
  rmSync(dataDir, { recursive: true, force: true });
});

it('serves GraphiQL on a fresh data dir', async () => {
  const response = await fetch(url, { headers: { accept: 'text/html' } });
  expect(response.status).toBe(200);
  expect(await response.text()).toContain('GraphiQL');
});

it('accepts the one line `pricealert token` prints, and keeps its secret private', async () => {
  const { stdout } = await run(process.execPath, [BIN, 'token', 'erin', '--data', dataDir], {
    env: { ...process.env, PRICEALERT_JWT_SECRET: '' },
  });
  const lines = stdout.split('\n').filter((line) => line.length > 0);
  expect(lines).toHaveLength(1);
  const response = await gql(url, '{ alerts { id } }', {}, lines[0]);
  expect(response.errors).toBeUndefined();
  expect(response.data).toEqual({ alerts: [] });
  expect(statSync(join(dataDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
});

it('shuts down cleanly on SIGTERM: WebSocket clients get 1001 and the node lets go of the data dir', async () => {
  const { stdout: token } = await run(process.execPath, [BIN, 'token', 'erin', '--data', dataDir]);
  const socket = connect(url.replace(/^http/, 'ws'), token.trim());
  const stream = subscribe(socket.client, 'subscription { alertTriggered { cursor } }');
  await settled(socket.client);
  server.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect((await socket.closed).code).toBe(1001);
  expect(stream.pending).toHaveLength(0);
  expect(existsSync(join(dataDir, 'node.lock'))).toBe(false);
});

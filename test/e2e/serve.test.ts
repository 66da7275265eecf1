// `pricealert serve` and `pricealert token` as a user runs them: child processes on a fresh data dir.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, gql, settled, subscribe } from '../api/harness.ts';
import { serve, token, type Served } from './process.ts';

let dataDir: string;
let server: Served;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pricealert-serve-'));
  server = await serve(dataDir);
}, 60_000);

afterAll(async () => {
  if (server.process.exitCode === null) server.process.kill('SIGKILL');
  await server.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

it('serves GraphiQL on a fresh data dir', async () => {
  const response = await fetch(server.url, { headers: { accept: 'text/html' } });
  expect(response.status).toBe(200);
  expect(await response.text()).toContain('GraphiQL');
});

it('accepts the one line `pricealert token` prints, and keeps its secret private', async () => {
  const lines = await token(dataDir, 'erin');
  expect(lines).toHaveLength(1);
  const response = await gql(server.url, '{ alerts { id } }', {}, lines[0]);
  expect(response.errors).toBeUndefined();
  expect(response.data).toEqual({ alerts: [] });
  expect(statSync(join(dataDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
});

it('shuts down cleanly on SIGTERM: WebSocket clients get 1001 and the node lets go of the data dir', async () => {
  const [erin] = await token(dataDir, 'erin');
  const socket = connect(server.url.replace(/^http/, 'ws'), erin);
  const stream = subscribe(socket.client, 'subscription { alertTriggered { cursor } }');
  await settled(socket.client);
  server.process.kill('SIGTERM');
  expect(await server.exited).toBe(0);
  expect((await socket.closed).code).toBe(1001);
  expect(stream.pending).toHaveLength(0);
  expect(existsSync(join(dataDir, 'node.lock'))).toBe(false);
});

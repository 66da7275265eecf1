// The compiled `pricealert` (dist/, as `npm ci` builds it) on a production install, without tsx: the
// commands, the embedded node with its writer thread, and `serve` up to /ready with a backtest thread.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_NAMES } from '../../src/cli/program.ts';
import { appendToStream, connectClient, readStream } from '../../src/eventstore/store.ts';
import { buildPackage, userEnv, type BuiltPackage } from '../helpers/build.ts';

const run = promisify(execFile);

let built: BuiltPackage;
beforeAll(async () => {
  built = await buildPackage();
}, 120_000);
afterAll(() => built?.remove());

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pricealert-compiled-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts the compiled bin and resolves with the first stdout line matching `pattern`. */
async function startUntil(
  args: string[],
  env: Record<string, string>,
  pattern: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [built.bin, ...args], {
    env: userEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const found = pattern.exec(out);
      if (found) resolve(found);
    });
    void exited.then(() => reject(new Error(`exited with ${child.exitCode}: ${out}${err}`)));
  });
  return { child, match };
}

describe('the compiled bin', () => {
  it('lists every command and exits 0 on --help; a light command runs', async () => {
    const { stdout } = await run(process.execPath, [built.bin, '--help'], { env: userEnv() });
    for (const name of COMMAND_NAMES) expect(stdout).toMatch(new RegExp(`^  ${name} `, 'm'));

    const storeHelp = await run(process.execPath, [built.bin, 'store', '--help'], { env: userEnv() });
    expect(storeHelp.stdout).toContain('--port <port>');

    const token = await run(process.execPath, [built.bin, 'token', 'alice', '--data', tempDir()], {
      env: userEnv({ PRICEALERT_JWT_SECRET: '' }),
    });
    expect(token.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });

  it('runs the embedded node: `pricealert store` takes appends and reads them back', async () => {
    const { match } = await startUntil(
      ['store', '--port', '0', '--data', tempDir()],
      {},
      /^(esdb:\/\/\S+)$/m,
    );
    const client = connectClient(match[1]!);
    cleanups.push(() => client.dispose());
    await appendToStream(client, 'compiled-1', { type: 'Built', data: { n: 1 } });
    const read: string[] = [];
    for await (const event of readStream(client, 'compiled-1')) read.push(event.type);
    expect(read).toEqual(['Built']);
  });

  it('serves: /ready answers 200 and a backtest runs in its thread', async () => {
    const { match } = await startUntil(
      ['serve'],
      { PORT: '0', PRICEALERT_DATA_DIR: tempDir(), PRICEALERT_FEED: 'none', EVENTSTORE_URL: '' },
      /GraphiQL at (\S+)/,
    );
    const graphql = match[1]!;
    const ready = await fetch(new URL('/ready', graphql));
    expect(ready.status).toBe(200);

    const answer = await fetch(graphql, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query:
          '{ backtest(input: { product: "BTC-USD", alerts: [{ direction: ABOVE, threshold: "1" }] }) { product tradesReplayed triggers { alertIndex } } }',
      }),
    });
    expect(await answer.json()).toEqual({
      data: { backtest: { product: 'BTC-USD', tradesReplayed: 0, triggers: [] } },
    });
  });
});

describe('a checkout before the build', () => {
  it('says how to build, with exit code 2', async () => {
    const unbuilt = await buildPackage({ compile: false });
    cleanups.push(() => unbuilt.remove());
    const failed = await run(process.execPath, [unbuilt.bin, '--help'], { env: userEnv() }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed).toMatchObject({ code: 2, stderr: expect.stringContaining('npm run build') as string });
  });
});

// The dashboard as a user meets it: `pricealert serve` on a port, the page in a real headless
// Chromium, trades recorded into the store while the page watches, and a server restart on the
// same port while an alert is about to fire.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recordTrades } from '../../src/domain/trades.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { freePort, killAllServes, serve, type Served } from '../e2e/process.ts';
import { launchBrowser } from './chromium.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-dashboard-'));
let store: TestStore;
let browser: Browser;
let server: Served;
let env: Record<string, string>;
let base: string;
/** Every console error and uncaught exception of every page this file opens. */
const pageErrors: string[] = [];

beforeAll(async () => {
  store = await startTestStore();
  env = { PORT: String(await freePort()), EVENTSTORE_URL: store.connectionString };
  [server, browser] = await Promise.all([serve(dataDir, env), launchBrowser()]);
  base = server.url.replace(/\/graphql$/, '/');
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await killAllServes();
  await store?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

let tradeNumber = 0;
/** Trades one second apart, ending a little before now, so each is a point of its own on the chart. */
async function trade(...prices: string[]): Promise<void> {
  const start = Date.now() - 20 * 60_000;
  await recordTrades(
    store.client,
    prices.map((price) => {
      tradeNumber += 1;
      return {
        product: 'BTC-USD',
        tradeId: `b${tradeNumber}`,
        price,
        size: '0.5',
        side: 'buy' as const,
        time: new Date(start + tradeNumber * 1000).toISOString(),
        source: 'test',
      };
    }),
    { products: ['BTC-USD'] },
  );
}

async function openPage(width = 1280): Promise<Page> {
  const page = await browser.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${String(error)}`));
  await page.setViewport({ width, height: 900 });
  await page.goto(base);
  return page;
}

const points = (page: Page): Promise<number> =>
  page.$eval('#chart', (chart) => Number(chart.getAttribute('data-points')));
const waitForText = (page: Page, selector: string, text: string) =>
  page.waitForFunction(
    (selector, text) =>
      [...document.querySelectorAll(selector)].some((node) => node.textContent?.includes(text)),
    { timeout: 60_000 },
    selector,
    text,
  );

let page: Page;

it('loads without console errors, draws the recorded trades and gains a point per new trade', async () => {
  await trade('100', '101', '102');
  page = await openPage();
  await page.waitForFunction(
    () => Number(document.querySelector<HTMLElement>('#chart')?.dataset.points) >= 3,
  );
  expect(await points(page)).toBe(3);
  await page.waitForFunction(() => document.querySelector('[data-stat="count"]')?.textContent === '3');

  await trade('103', '104');
  await page.waitForFunction(
    () => Number(document.querySelector<HTMLElement>('#chart')?.dataset.points) >= 5,
  );
  expect(await points(page)).toBe(5);
  expect(await page.$eval('[data-stat="last"]', (cell) => cell.textContent)).toBe('104');
  // Every control has a label a screen reader can announce; every button a name.
  const unlabelled = await page.$$eval('input, select, button', (controls) =>
    controls
      .filter((control) =>
        control instanceof HTMLButtonElement
          ? !(control.textContent?.trim() || control.getAttribute('aria-label'))
          : (control as HTMLInputElement).labels?.length === 0,
      )
      .map((control) => control.outerHTML),
  );
  expect(unlabelled).toEqual([]);
  expect(pageErrors).toEqual([]);
}, 90_000);

it('signs in with one click, shows a bad threshold beside its field, lists a created alert and draws its line', async () => {
  await page.$eval('#dev-user', (input) => ((input as HTMLInputElement).value = 'ann'));
  await page.click('#dev-form button');
  await waitForText(page, '#user', 'ann');

  const thresholdError = () => page.$eval('[data-error-for="threshold"]', (error) => error.textContent);
  await page.type('#alert-form [name="threshold"]', 'abc');
  await page.click('#alert-form button[type="submit"]');
  await page.waitForFunction(
    () => document.querySelector('[data-error-for="threshold"]')?.textContent !== '',
  );
  expect(await thresholdError()).toContain('a plain decimal number');

  // The API's own refusal (BAD_USER_INPUT naming the field) is shown beside the field it names.
  await page.$eval('[name="threshold"]', (input) => ((input as HTMLInputElement).value = ''));
  await page.type('#alert-form [name="threshold"]', '0');
  await page.type('#alert-form [name="note"]', 'x'.repeat(281));
  await page.click('#alert-form button[type="submit"]');
  await page.waitForFunction(
    () => !document.querySelector('[data-error-for="threshold"]')?.textContent?.includes('plain'),
  );
  await page.waitForFunction(
    () => document.querySelector('[data-error-for="threshold"]')?.textContent !== '',
  );
  expect(await thresholdError()).toMatch(/threshold/);
  expect(await page.$eval('[name="threshold"]', (input) => input.getAttribute('aria-invalid'))).toBe('true');
  expect(await page.$$('#alert-table tbody tr')).toHaveLength(0);
  await page.$eval('[name="note"]', (input) => ((input as HTMLInputElement).value = ''));

  await page.$eval('[name="threshold"]', (input) => ((input as HTMLInputElement).value = ''));
  await page.type('#alert-form [name="threshold"]', '150');
  await page.select('#alert-form [name="measure"]', 'LAST');
  await page.click('#alert-form button[type="submit"]');
  await waitForText(page, '#alert-table tbody tr', 'ABOVE 150 (LAST)');
  expect(await page.$eval('[data-error-for="threshold"]', (error) => error.textContent)).toBe('');
  expect(await page.$eval('#chart', (chart) => chart.getAttribute('data-thresholds'))).toBe('150');
  expect(pageErrors).toEqual([]);
}, 90_000);

it('shows a toast and marks the chart when a trade crosses the alert', async () => {
  await trade('151');
  await waitForText(page, '.toast', 'ABOVE 150 (LAST) fired at 151');
  await waitForText(page, '#alert-table tbody tr', 'TRIGGERED');
  await page.waitForFunction(() => document.querySelector<HTMLElement>('#chart')?.dataset.markers === '1');
  expect(await page.$$eval('#trigger-feed li', (items) => items.map((item) => item.textContent))).toEqual([
    expect.stringContaining('ABOVE 150 (LAST) fired at 151'),
  ]);
  expect(pageErrors).toEqual([]);
}, 90_000);

it('creates an ENTER alert with the condition’s own fields, shows a bad range beside its field, and draws both bounds', async () => {
  await page.select('#alert-form [name="condition"]', 'ENTER');
  const hidden = (name: string) =>
    page.$eval(`#alert-form [name="${name}"]`, (input) => (input.closest('label') as HTMLElement).hidden);
  expect([
    await hidden('threshold'),
    await hidden('direction'),
    await hidden('low'),
    await hidden('high'),
  ]).toEqual([true, true, false, false]);
  await page.type('#alert-form [name="low"]', '1100');
  await page.type('#alert-form [name="high"]', '1000');
  await page.click('#alert-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('[data-error-for="high"]')?.textContent !== '');
  expect(await page.$eval('[data-error-for="high"]', (error) => error.textContent)).toContain(
    'greater than low',
  );

  await page.$eval('[name="low"]', (input) => ((input as HTMLInputElement).value = '1000'));
  await page.$eval('[name="high"]', (input) => ((input as HTMLInputElement).value = '1100'));
  await page.click('#alert-form button[type="submit"]');
  await waitForText(page, '#alert-table tbody tr', 'ENTER 1000..1100 (LAST)');
  expect(await page.$eval('#chart', (chart) => chart.getAttribute('data-thresholds'))).toBe('1000 1100');
  await page.select('#alert-form [name="condition"]', 'LEVEL');
  expect(await hidden('threshold')).toBe(false);
  expect(pageErrors).toEqual([]);
}, 90_000);

it('loses no trigger across a server restart, nor across a page reload, and repeats none', async () => {
  for (const threshold of ['200', '300']) {
    await page.$eval('[name="threshold"]', (input) => ((input as HTMLInputElement).value = ''));
    await page.type('#alert-form [name="threshold"]', threshold);
    await page.click('#alert-form button[type="submit"]');
    await waitForText(page, '#alert-table tbody tr', `ABOVE ${threshold} (LAST)`);
  }

  // The server is killed and the alert fires while it is down (the store keeps running).
  server.process.kill('SIGKILL');
  await server.exited;
  await trade('201');
  server = await serve(dataDir, env);
  await waitForText(page, '.toast', 'ABOVE 200 (LAST) fired at 201');

  // The page is closed while the next alert fires; opened again, it resumes from its last cursor.
  await page.close();
  await trade('301');
  page = await openPage(360);
  await waitForText(page, '#trigger-feed li', 'ABOVE 300 (LAST) fired at 301');
  await waitForText(page, '#connection', 'live');
  const feed = await page.$$eval('#trigger-feed li', (items) => items.map((item) => item.textContent));
  expect(feed).toEqual([expect.stringContaining('ABOVE 300 (LAST) fired at 301')]);
  // Chromium itself logs each refused WebSocket connection while the server is down.
  expect(pageErrors.filter((error) => !/WebSocket connection to .* failed/.test(error))).toEqual([]);
}, 120_000);

it('serves its files with their types, answers nothing else, and mints tokens only for JSON requests', async () => {
  const types = await Promise.all(
    ['', 'assets/app.js', 'assets/app.css'].map(async (path) => {
      const response = await fetch(base + path);
      await response.arrayBuffer();
      return [response.status, response.headers.get('content-type')];
    }),
  );
  expect(types).toEqual([
    [200, 'text/html; charset=utf-8'],
    [200, 'text/javascript; charset=utf-8'],
    [200, 'text/css; charset=utf-8'],
  ]);
  for (const path of [
    'assets/../package.json',
    'assets/%2e%2e/package.json',
    'assets/index.html',
    'index.html',
  ])
    expect((await fetch(base + path)).status, path).toBe(404);

  const plain = await fetch(`${base}dev/token`, { method: 'POST', body: '{"userId":"eve"}' });
  expect(plain.status).toBe(415);
  const badUser = await fetch(`${base}dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"userId":"no spaces allowed"}',
  });
  expect(badUser.status).toBe(400);
}, 30_000);

it('refuses one-click sign-in with 403 when the server is bound to an address others can reach', async () => {
  const open = await serve(dataDir, { ...env, PORT: '0', HOST: '0.0.0.0' });
  const local = open.url.replace('0.0.0.0', '127.0.0.1').replace(/\/graphql$/, '/');
  const response = await fetch(`${local}dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"userId":"eve"}',
  });
  const body = (await response.json()) as { token?: string; message: string };
  expect(response.status).toBe(403);
  expect(body.token).toBeUndefined();
  expect(body.message).toContain('127.0.0.1 or localhost');
  expect((await fetch(local)).status).toBe(200);
}, 60_000);

it('refuses one-click sign-in to a request that names another host (DNS rebinding)', async () => {
  const status = await new Promise<number | undefined>((resolve, reject) => {
    const outgoing = request(
      `${base}dev/token`,
      { method: 'POST', headers: { host: 'attacker.example', 'content-type': 'application/json' } },
      (response) => {
        response.resume();
        resolve(response.statusCode);
      },
    );
    outgoing.on('error', reject);
    outgoing.end('{}');
  });
  expect(status).toBe(403);
});

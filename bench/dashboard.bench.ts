// The dashboard's weight and speed: JS + CSS gzipped as built into dist/dashboard (beside the
// charting library's own standalone build, the floor any page with the chart pays), and the time
// from navigation start to the first chart point in headless Chromium on a local `serve` with an
// hour of trades (beside DOMContentLoaded of the same loads). Without Chromium only the weight runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { recordTrades } from '../src/domain/trades.ts';
import type { TradeInput } from '../src/domain/types.ts';
import { hasChromium, launchBrowser, CHROMIUM } from '../test/browser/chromium.ts';
import { freePort, killAllServes, serve } from '../test/e2e/process.ts';
import { startTestStore } from '../test/helpers/store.ts';
import { fmt, QUICK, report, summarize } from './stats.ts';

const ROOT = join(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist/dashboard');
const LIBRARY = join(
  ROOT,
  'node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js',
);
const LOADS = QUICK ? 3 : 15;
const TRADES = 1_000;

const kib = (bytes: number): string => `${fmt(bytes / 1024, 1)} KiB`;
const gzipped = (path: string): number => gzipSync(readFileSync(path)).length;

if (!existsSync(join(DIST, 'app.js'))) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
const js = gzipped(join(DIST, 'app.js'));
const css = gzipped(join(DIST, 'app.css'));
report('page weight: app.js gzipped', kib(js));
report('page weight: app.css gzipped', kib(css));
report('page weight: JS + CSS gzipped', kib(js + css), '< 300 KiB');
report('baseline: lightweight-charts standalone build gzipped', kib(gzipped(LIBRARY)));

if (!hasChromium()) {
  process.stdout.write(`no Chromium at ${CHROMIUM}: time to first chart point skipped\n`);
  process.exit(0);
}

const store = await startTestStore();
const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-dashboard-bench-'));
const browser = await launchBrowser();
try {
  const now = Date.now();
  const trades: TradeInput[] = Array.from({ length: TRADES }, (_, index) => ({
    product: 'BTC-USD',
    tradeId: `bench${index}`,
    price: String(60_000 + Math.round(Math.sin(index / 40) * 300)),
    size: '0.25',
    side: index % 2 ? 'buy' : 'sell',
    time: new Date(now - 3_600_000 + index * 3_500).toISOString(),
    source: 'bench',
  }));
  await recordTrades(store.client, trades, { products: ['BTC-USD'] });
  const served = await serve(dataDir, {
    PORT: String(await freePort()),
    EVENTSTORE_URL: store.connectionString,
  });
  const page = served.url.replace(/\/graphql$/, '/');

  const firstPoint: number[] = [];
  const contentLoaded: number[] = [];
  for (let load = 0; load < LOADS + 1; load += 1) {
    const tab = await browser.newPage();
    await tab.setCacheEnabled(false);
    await tab.goto(page);
    await tab.waitForFunction(
      () => (window as unknown as { __firstPointAt?: number }).__firstPointAt !== undefined,
    );
    const [point, loaded] = await tab.evaluate(() => [
      (window as unknown as { __firstPointAt: number }).__firstPointAt,
      (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).domContentLoadedEventEnd,
    ]);
    await tab.close();
    // The first load warms the server's and Chromium's code paths; it is not counted.
    if (load === 0) continue;
    firstPoint.push(point!);
    contentLoaded.push(loaded!);
  }
  const line = (samples: number[]): string => {
    const { p50, max } = summarize(samples);
    return `median ${fmt(p50, 0)} ms, max ${fmt(max, 0)} ms`;
  };
  report(`first chart point after navigation start (${LOADS} cold loads)`, line(firstPoint), '< 1 s');
  report('baseline: DOMContentLoaded of the same loads', line(contentLoaded));
} finally {
  await browser.close();
  await killAllServes();
  await store.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

// A price chart on lightweight-charts: last, mean and VWAP lines at one point per second, the
// caller's thresholds as horizontal lines and triggers as markers. Its element's data attributes
// (points, thresholds, markers) say what is drawn, for tests and for anyone inspecting the page.
import {
  createChart,
  createSeriesMarkers,
  LineSeries,
  type IPriceLine,
  type ISeriesApi,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';

export type Line = 'last' | 'mean' | 'vwap';
export interface Point {
  time: number;
  value: number;
}
export interface Threshold {
  price: number;
  title: string;
}

const COLORS: Record<Line, string> = { last: '#1f5fbf', mean: '#c77700', vwap: '#2e8540' };

export interface PriceChart {
  /** Replaces a line's points (any order; one per second is kept, the last). */
  set(line: Line, points: Point[]): void;
  /** Adds or replaces the newest point of a line; an older point than the newest is ignored. */
  add(line: Line, point: Point): void;
  thresholds(thresholds: Threshold[]): void;
  markers(markers: { time: number; text: string }[]): void;
  clear(): void;
}

/** The first time a point is drawn: `window.__firstPointAt` (ms from navigation start) and a performance mark. */
function noteFirstPoint(): void {
  const global = window as unknown as { __firstPointAt?: number };
  if (global.__firstPointAt !== undefined) return;
  requestAnimationFrame(() => {
    if (global.__firstPointAt !== undefined) return;
    global.__firstPointAt = performance.now();
    performance.mark('first-chart-point');
  });
}

export function priceChart(element: HTMLElement): PriceChart {
  const chart = createChart(element, {
    autoSize: true,
    layout: { attributionLogo: true, textColor: '#243040' },
    timeScale: { timeVisible: true, secondsVisible: true },
    localization: {
      priceFormatter: (price: number) => price.toLocaleString(undefined, { maximumFractionDigits: 8 }),
    },
  });
  const series = Object.fromEntries(
    (Object.keys(COLORS) as Line[]).map((line) => [
      line,
      chart.addSeries(LineSeries, {
        color: COLORS[line],
        lineWidth: line === 'last' ? 2 : 1,
        title: line === 'vwap' ? 'VWAP' : line,
        lastValueVisible: true,
        priceLineVisible: false,
      }),
    ]),
  ) as Record<Line, ISeriesApi<'Line'>>;
  const newest: Record<Line, number> = { last: -Infinity, mean: -Infinity, vwap: -Infinity };
  const counts: Record<Line, number> = { last: 0, mean: 0, vwap: 0 };
  const markerPlugin = createSeriesMarkers(series.last, []);
  let lines: IPriceLine[] = [];

  const show = (): void => {
    element.dataset.points = String(counts.last);
    if (counts.last > 0) noteFirstPoint();
  };

  return {
    set(line, points) {
      const bySecond = new Map<number, number>();
      for (const point of [...points].sort((a, b) => a.time - b.time)) bySecond.set(point.time, point.value);
      const data = [...bySecond].map(([time, value]) => ({ time: time as UTCTimestamp, value }));
      series[line].setData(data);
      newest[line] = data.at(-1)?.time ?? -Infinity;
      counts[line] = data.length;
      show();
    },
    add(line, { time, value }) {
      if (time < newest[line] || !Number.isFinite(value)) return;
      if (time > newest[line]) counts[line] += 1;
      newest[line] = time;
      series[line].update({ time: time as UTCTimestamp, value });
      show();
    },
    thresholds(thresholds) {
      for (const line of lines) series.last.removePriceLine(line);
      lines = thresholds.map(({ price, title }) =>
        series.last.createPriceLine({
          price,
          title,
          color: '#b3261e',
          lineWidth: 1,
          lineStyle: 2,
          axisLabelVisible: true,
        }),
      );
      element.dataset.thresholds = thresholds.map(({ price }) => price).join(' ');
    },
    markers(markers) {
      const sorted: SeriesMarker<Time>[] = [...markers]
        .sort((a, b) => a.time - b.time)
        .map(({ time, text }) => ({
          time: time as UTCTimestamp,
          position: 'aboveBar',
          shape: 'arrowDown',
          color: '#b3261e',
          text,
        }));
      markerPlugin.setMarkers(sorted);
      element.dataset.markers = String(sorted.length);
    },
    clear() {
      for (const line of Object.keys(series) as Line[]) {
        series[line].setData([]);
        newest[line] = -Infinity;
        counts[line] = 0;
      }
      markerPlugin.setMarkers([]);
      element.dataset.markers = '0';
      element.dataset.points = '0';
    },
  };
}

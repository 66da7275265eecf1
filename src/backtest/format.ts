// The human-readable backtest report: a heading on how the replay read, the triggers, a summary per alert.
import Table from 'cli-table3';
import type { BacktestAlert } from './alerts.ts';
import type { BacktestReport } from './report.ts';

const count = (value: number): string => value.toLocaleString('en-US');

/**
 * `#0 ABOVE 43000 MEAN 10m repeat (rearm by 5)`, `#1 MOVE BELOW 2% 1h`, `#2 ENTER 42000..43000 LAST` —
 * the alert as the user wrote it, defaults filled in.
 */
export function describeAlert(alert: BacktestAlert, index: number): string {
  const condition = alert.condition ?? 'LEVEL';
  const move = condition === 'MOVE';
  const window = alert.measure === 'LAST' && !move ? '' : ` ${alert.window}`;
  const measure = move ? '' : ` ${alert.measure}`;
  const what =
    condition === 'ENTER' || condition === 'EXIT'
      ? `${condition} ${alert.low}..${alert.high}`
      : `${condition === 'LEVEL' ? '' : `${condition} `}${alert.direction} ${move ? `${alert.percent}%` : alert.threshold}`;
  const extras = [
    alert.rearmBy === '0' ? '' : `rearm by ${alert.rearmBy}`,
    alert.cooldown === undefined ? '' : `cooldown ${alert.cooldown}`,
  ].filter(Boolean);
  const repeat = alert.repeat ? ` repeat${extras.length > 0 ? ` (${extras.join(', ')})` : ''}` : '';
  return `#${index} ${what}${measure}${window}${repeat}`;
}

export function formatReport(report: BacktestReport, alerts: readonly BacktestAlert[]): string {
  const lines: string[] = [];
  lines.push(
    `Backtest of ${report.product} from ${report.from ?? 'the first trade'} to ${report.to ?? 'the last trade'}`,
  );
  const seconds = (report.elapsedMs / 1000).toFixed(2);
  lines.push(
    `Replayed ${count(report.tradesReplayed)} trades in range in ${seconds} s${report.complete ? '' : ' — STOPPED before the end'}.`,
  );
  if (report.warmUp.since === null) {
    lines.push('No trades in range.');
  } else {
    const seek = report.seek
      ? ` (store revision ${count(report.seek.startRevision)} of ${count(report.seek.streamLength)}, found with ${report.seek.reads} single-event reads in ${report.seek.ms} ms)`
      : '';
    lines.push(
      `Read back to ${report.warmUp.since}${seek}; ${count(report.warmUp.trades)} warm-up trades before "from" filled the windows.`,
    );
  }
  if (report.outOfOrderTrades > 0) {
    lines.push(
      `Note: ${count(report.outOfOrderTrades)} trades were earlier than a trade before them; they were applied in stream order, as the live system does.`,
    );
  }
  lines.push('');

  if (report.triggers.length === 0) {
    lines.push('No alert fired.');
  } else {
    const triggers = new Table({
      head: ['alert', 'triggered at', 'value', 'trade', 'price', 'size', 'side'],
      colAligns: ['left', 'left', 'right', 'left', 'right', 'right', 'left'],
      style: { head: [], border: [] },
    });
    for (const trigger of report.triggers) {
      triggers.push([
        `#${trigger.alertIndex}`,
        trigger.triggeredAt,
        trigger.value,
        trigger.trade.tradeId,
        trigger.trade.price,
        trigger.trade.size,
        trigger.trade.side,
      ]);
    }
    lines.push(triggers.toString());
  }
  lines.push('');

  const summary = new Table({
    head: ['alert', 'fired', 'first trigger', 'last trigger'],
    colAligns: ['left', 'right', 'left', 'left'],
    style: { head: [], border: [] },
  });
  for (const entry of report.summary) {
    const alert = alerts[entry.alertIndex];
    summary.push([
      alert ? describeAlert(alert, entry.alertIndex) : `#${entry.alertIndex}`,
      count(entry.fired),
      entry.firstTriggeredAt ?? '—',
      entry.lastTriggeredAt ?? '—',
    ]);
  }
  lines.push(summary.toString());
  return `${lines.join('\n')}\n`;
}

// The dashboard: a live chart per product, sign-in, the caller's alerts, their triggers as they fire
// (resumed after a reload from the cursor kept in localStorage) and backtests over a time range.
import './style.css';
import {
  createPriceAlertClient,
  type AlertTrigger,
  type Price,
  type PriceAlertClient,
  type Trade,
} from 'pricealert/client';
import {
  ApiError,
  devToken,
  fieldOf,
  gql,
  gqlPartial,
  GRAPHQL_URL,
  secondsOf,
  storedToken,
  storeToken,
  userOf,
  windowSeconds,
} from './api.ts';
import { priceChart, type Point } from './chart.ts';

interface AlertRow {
  id: string;
  product: string;
  condition: 'LEVEL' | 'CROSS' | 'MOVE' | 'ENTER' | 'EXIT';
  direction: 'ABOVE' | 'BELOW' | null;
  threshold: string | null;
  percent: string | null;
  low: string | null;
  high: string | null;
  cooldown: string | null;
  measure: 'LAST' | 'MEAN' | 'VWAP';
  window: string;
  repeat: boolean;
  rearmBy: string;
  status: string;
  armed: boolean;
  triggerCount: number;
  lastTriggeredAt: string | null;
  note: string | null;
}

const $ = <T extends HTMLElement = HTMLElement>(selector: string): T => document.querySelector<T>(selector)!;
const ALERT_FIELDS =
  'id product condition direction threshold percent low high cooldown measure window repeat rearmBy status armed triggerCount lastTriggeredAt note';
/** Windows the dashboard asks the server about (it keeps those it answers for, plus `all`). */
const CANDIDATE_WINDOWS = ['30s', '1m', '5m', '10m', '15m', '30m', '1h', '4h', '24h', '7d'];
const HOUR = 3600;
const TRADES_LOADED = 1000;
const TOAST_MS = 8_000;
/** More toasts at once would cover a phone's screen; the feed keeps them all. */
const TOASTS_SHOWN = 3;
const RETRY_MS = 5_000;

const chart = priceChart($('#chart'));
let backtestChart: ReturnType<typeof priceChart> | undefined;
let product = '';
let chosenWindow = '10m';
let alerts: AlertRow[] = [];
/** Triggers seen on this page, per product, drawn as markers. */
const marks = new Map<string, { time: number; text: string }[]>();
let client: PriceAlertClient | undefined;
/** Bumped whenever the market view or the connection changes, so that stale loops stop. */
let marketRun = 0;
let connectionRun = 0;

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const shortTime = (iso: string): string => new Date(iso).toLocaleString();
type Described = Pick<
  AlertRow,
  'condition' | 'direction' | 'threshold' | 'percent' | 'low' | 'high' | 'measure' | 'window'
>;
/** `ABOVE 43000`, `CROSS BELOW 42000`, `MOVE ABOVE 5%`, `ENTER 42000..43000`: what an alert watches for. */
const condition = (alert: Partial<Described>): string => {
  const kind = alert.condition ?? 'LEVEL';
  if (kind === 'ENTER' || kind === 'EXIT') return `${kind} ${alert.low}..${alert.high}`;
  if (kind === 'MOVE') return `MOVE ${alert.direction} ${alert.percent}%`;
  return `${kind === 'LEVEL' ? '' : `${kind} `}${alert.direction} ${alert.threshold}`;
};
const describe = (alert: Described): string =>
  alert.condition === 'MOVE'
    ? `${condition(alert)} (${alert.window})`
    : `${condition(alert)} (${alert.measure}${alert.measure === 'LAST' ? '' : ` ${alert.window}`})`;

function fillSelect(select: HTMLSelectElement, values: string[], chosen: string): void {
  select.replaceChildren(...values.map((value) => new Option(value, value, false, value === chosen)));
}

// --- market ---------------------------------------------------------------------------------

/**
 * Mean and VWAP at each loaded trade, only where the loaded trades cover the whole window: always
 * when they are all the product's trades (fewer than asked for), else from one window after the oldest.
 */
function rolling(
  trades: Trade[],
  seconds: number | undefined,
  complete: boolean,
): { mean: Point[]; vwap: Point[] } {
  const mean: Point[] = [];
  const vwap: Point[] = [];
  if ((seconds === undefined && !complete) || trades.length === 0) return { mean, vwap };
  const times = trades.map((trade) => Date.parse(trade.time));
  const span = seconds === undefined ? Infinity : seconds * 1000;
  let start = 0;
  let prices = 0;
  let notional = 0;
  let volume = 0;
  trades.forEach((trade, index) => {
    const price = Number(trade.price);
    const size = Number(trade.size);
    prices += price;
    notional += price * size;
    volume += size;
    while (times[start]! <= times[index]! - span) {
      const old = trades[start]!;
      prices -= Number(old.price);
      notional -= Number(old.price) * Number(old.size);
      volume -= Number(old.size);
      start += 1;
    }
    if (!complete && times[index]! - span < times[0]!) return;
    const time = secondsOf(trade.time);
    mean.push({ time, value: prices / (index - start + 1) });
    vwap.push({ time, value: notional / volume });
  });
  return { mean, vwap };
}

function showStats(price: Price): void {
  for (const [key, value] of Object.entries(price)) {
    const cell = document.querySelector<HTMLElement>(`[data-stat="${key}"]`);
    if (cell) cell.textContent = String(value);
  }
}

function drawOverlays(): void {
  chart.thresholds(
    alerts
      .filter((alert) => alert.product === product && alert.status === 'ACTIVE')
      .flatMap((alert) =>
        [alert.threshold, alert.low, alert.high]
          .filter((price): price is string => price !== null && price !== undefined)
          .map((price) => ({ price: Number(price), title: describe(alert) })),
      ),
  );
  chart.markers(marks.get(product) ?? []);
}

async function loadMarket(): Promise<void> {
  const run = (marketRun += 1);
  const marketError = $('#market-error');
  marketError.textContent = '';
  chart.clear();
  for (const cell of document.querySelectorAll('[data-stat]')) cell.textContent = '–';
  try {
    const { trades } = await gql<{ trades: Trade[] }>(
      'query Trades($product: String!, $last: Int) { trades(product: $product, last: $last) { price size time } }',
      { product, last: TRADES_LOADED },
    );
    if (run !== marketRun) return;
    const oldestFirst = [...trades].reverse();
    const newest = oldestFirst.length > 0 ? secondsOf(oldestFirst.at(-1)!.time) : 0;
    const inHour = (point: Point): boolean => point.time > newest - HOUR;
    chart.set(
      'last',
      oldestFirst
        .map((trade) => ({ time: secondsOf(trade.time), value: Number(trade.price) }))
        .filter(inHour),
    );
    const { mean, vwap } = rolling(oldestFirst, windowSeconds(chosenWindow), trades.length < TRADES_LOADED);
    chart.set('mean', mean.filter(inHour));
    chart.set('vwap', vwap.filter(inHour));
    drawOverlays();
    if (!client) return;
    for await (const price of client.price(product, chosenWindow)) {
      if (run !== marketRun) break;
      showStats(price);
      const time = secondsOf(price.time);
      chart.add('last', { time, value: Number(price.last) });
      chart.add('mean', { time, value: Number(price.mean) });
      chart.add('vwap', { time, value: Number(price.vwap) });
    }
  } catch (error) {
    if (run === marketRun) marketError.textContent = `Prices: ${errorText(error)}`;
  }
}

/** The windows among the candidates that the server keeps for a product, and `all`. */
async function discoverWindows(): Promise<string[]> {
  const probes = CANDIDATE_WINDOWS.map(
    (window, index) => `w${index}: price(product: $product, window: "${window}") { count }`,
  );
  const { errors = [] } = await gqlPartial(`query Windows($product: String!) { ${probes.join(' ')} }`, {
    product,
  });
  const refused = new Set(errors.map((error) => String(error.path?.[0])));
  return [...CANDIDATE_WINDOWS.filter((_, index) => !refused.has(`w${index}`)), 'all'];
}

// --- alerts -----------------------------------------------------------------------------------

const alertForm = $<HTMLFormElement>('#alert-form');

function cell(text: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function renderAlerts(): void {
  const rows = alerts.map((alert) => {
    const row = document.createElement('tr');
    row.dataset.alertId = alert.id;
    const what = cell(`${alert.product} ${describe(alert)}${alert.repeat ? ' repeat' : ''}`);
    if (alert.note) what.title = alert.note;
    const actions = document.createElement('td');
    if (alert.status === 'ACTIVE') {
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.textContent = 'Cancel';
      cancel.setAttribute('aria-label', `Cancel alert ${alert.product} ${describe(alert)}`);
      cancel.addEventListener('click', () => void cancelAlert(alert.id));
      actions.append(cancel);
    }
    row.append(
      what,
      cell(alert.status),
      cell(alert.armed ? 'yes' : 'no'),
      cell(String(alert.triggerCount)),
      cell(alert.lastTriggeredAt ? shortTime(alert.lastTriggeredAt) : '–'),
      actions,
    );
    return row;
  });
  $('#alert-table tbody').replaceChildren(...rows);
  renderBacktestChoices();
  drawOverlays();
}

async function refreshAlerts(): Promise<void> {
  if (!storedToken()) {
    alerts = [];
    return renderAlerts();
  }
  try {
    ({ alerts } = await gql<{ alerts: AlertRow[] }>(`{ alerts(first: 1000) { ${ALERT_FIELDS} } }`));
    renderAlerts();
  } catch (error) {
    showFormError('form', `Alerts: ${errorText(error)}`);
  }
}

function showFormError(field: string, message: string): boolean {
  const target = alertForm.querySelector<HTMLElement>(`[data-error-for="${field}"]`);
  if (!target) return false;
  target.textContent = message;
  const control = alertForm.elements.namedItem(field);
  if (control instanceof HTMLElement) control.setAttribute('aria-invalid', 'true');
  return true;
}

function clearFormErrors(): void {
  for (const target of alertForm.querySelectorAll('[data-error-for]')) target.textContent = '';
  for (const control of alertForm.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

/** Each control gets the element its errors appear in, tied to it for screen readers. */
function prepareAlertForm(): void {
  for (const control of alertForm.querySelectorAll<HTMLInputElement>('input[name], select[name]')) {
    const error = document.createElement('span');
    error.className = 'error';
    error.id = `error-${control.name}`;
    error.dataset.errorFor = control.name;
    control.setAttribute('aria-describedby', error.id);
    control.closest('label')!.after(error);
  }
}

/** The condition's own fields show; the others hide and are not sent. */
function showConditionFields(): void {
  const chosen = String(new FormData(alertForm).get('condition') ?? 'LEVEL');
  for (const label of alertForm.querySelectorAll<HTMLElement>('label[data-for]'))
    label.hidden = !label.dataset.for!.split(' ').includes(chosen);
}

function alertInput(): Record<string, unknown> {
  const data = new FormData(alertForm);
  const text = (name: string): string => String(data.get(name) ?? '').trim();
  const shown = (name: string): boolean =>
    !alertForm.querySelector<HTMLInputElement>(`[name="${name}"]`)!.closest('label')!.hidden;
  const input: Record<string, unknown> = {
    product: text('product'),
    condition: text('condition') || 'LEVEL',
    measure: text('measure'),
    window: text('window'),
    repeat: data.get('repeat') !== null,
  };
  if (shown('direction')) input.direction = text('direction');
  for (const field of ['threshold', 'percent', 'low', 'high']) if (shown(field)) input[field] = text(field);
  if (shown('rearmBy') && text('rearmBy')) input.rearmBy = text('rearmBy');
  if (text('cooldown')) input.cooldown = text('cooldown');
  if (text('note')) input.note = text('note');
  if (text('expiresAt')) {
    const time = new Date(text('expiresAt'));
    input.expiresAt = Number.isNaN(time.getTime()) ? text('expiresAt') : time.toISOString();
  }
  return input;
}

/**
 * The Decimal scalar's form, checked here too: the server refuses a variable that fails a scalar with
 * HTTP 400, which the browser logs as an error. Everything else is the API's to judge.
 */
const DECIMAL = /^\d+(\.\d+)?$/;

async function createAlert(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearFormErrors();
  const input = alertInput();
  const malformed = ['threshold', 'percent', 'low', 'high', 'rearmBy'].filter(
    (field) => input[field] !== undefined && !DECIMAL.test(String(input[field])),
  );
  for (const field of malformed) showFormError(field, `${field}: a plain decimal number such as 43250.1`);
  if (malformed.length > 0) return alertForm.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  try {
    await gql(`mutation CreateAlert($input: CreateAlertInput!) { createAlert(input: $input) { id } }`, {
      input,
    });
    alertForm.querySelector<HTMLInputElement>('[name="threshold"]')!.value = '';
    alertForm.querySelector<HTMLInputElement>('[name="note"]')!.value = '';
    await refreshAlerts();
  } catch (error) {
    const errors = error instanceof ApiError ? error.errors : [{ message: errorText(error) }];
    for (const entry of errors) {
      const field = fieldOf(entry);
      if (!field || !showFormError(field, entry.message)) showFormError('form', entry.message);
    }
    alertForm.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }
}

async function cancelAlert(id: string): Promise<void> {
  try {
    await gql('mutation Cancel($id: ID!) { cancelAlert(id: $id) { id } }', { id });
  } catch (error) {
    showFormError('form', errorText(error));
  }
  await refreshAlerts();
}

// --- triggers ---------------------------------------------------------------------------------

const cursorKey = (user: string): string => `pricealert.cursor.${user}`;

function toast(text: string): void {
  const item = document.createElement('div');
  item.className = 'toast';
  const message = document.createElement('span');
  message.textContent = text;
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = '×';
  close.setAttribute('aria-label', 'Dismiss');
  close.addEventListener('click', () => item.remove());
  item.append(message, close);
  const toasts = $('#toasts');
  toasts.append(item);
  while (toasts.children.length > TOASTS_SHOWN) toasts.firstElementChild!.remove();
  setTimeout(() => item.remove(), TOAST_MS);
}

function showTrigger(trigger: AlertTrigger): void {
  const text = `${trigger.alert.product} ${describe(trigger.alert)} fired at ${trigger.value} (trade ${trigger.trade.price})`;
  const item = document.createElement('li');
  const time = document.createElement('time');
  time.dateTime = trigger.triggeredAt;
  time.textContent = shortTime(trigger.trade.time);
  item.append(time, ` ${text}`);
  $('#trigger-feed').prepend(item);
  $('#trigger-empty').hidden = true;
  toast(text);
  if ('Notification' in window && Notification.permission === 'granted')
    new Notification('pricealert', { body: text });
  const productMarks = marks.get(trigger.alert.product) ?? [];
  productMarks.push({
    time: secondsOf(trigger.trade.time),
    text: condition(trigger.alert),
  });
  marks.set(trigger.alert.product, productMarks);
  drawOverlays();
}

let alertsRefresh: ReturnType<typeof setTimeout> | undefined;

async function followTriggers(feed: PriceAlertClient, user: string, run: number): Promise<void> {
  const key = cursorKey(user);
  while (run === connectionRun) {
    const stream = feed.alertTriggered({ after: localStorage.getItem(key) });
    try {
      for await (const trigger of stream) {
        if (run !== connectionRun) return;
        localStorage.setItem(key, trigger.cursor);
        showTrigger(trigger);
        clearTimeout(alertsRefresh);
        alertsRefresh = setTimeout(() => void refreshAlerts(), 200);
      }
      return;
    } catch (error) {
      if (run !== connectionRun) return;
      // A cursor the server no longer keeps (or another user's): start from the live triggers.
      if (error instanceof Error && 'code' in error && error.code === 'BAD_USER_INPUT') {
        localStorage.removeItem(key);
        toast(`Triggers: ${error.message}; following live triggers from now`);
        continue;
      }
      toast(`Triggers: ${errorText(error)}; trying again`);
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

// --- account and connection -----------------------------------------------------------------

function connect(): void {
  connectionRun += 1;
  const run = connectionRun;
  void client?.dispose();
  const token = storedToken();
  const status = $('#connection');
  client = createPriceAlertClient({
    url: GRAPHQL_URL,
    ...(token ? { token } : {}),
    graphqlWs: {
      on: {
        connecting: () => (status.textContent = 'connecting…'),
        connected: () => {
          status.textContent = 'live';
          status.dataset.state = 'live';
        },
        closed: () => {
          status.textContent = 'reconnecting…';
          status.dataset.state = 'closed';
        },
      },
    },
  });
  const user = token ? userOf(token) : undefined;
  $('#signed-out').hidden = user !== undefined;
  $('#signed-in').hidden = user === undefined;
  $('#user').textContent = user ?? '';
  $<HTMLFieldSetElement>('#alert-fields').disabled = user === undefined;
  void loadMarket();
  void refreshAlerts();
  if (user) void followTriggers(client, user, run);
}

async function signIn(token: string): Promise<void> {
  const signinError = $('#signin-error');
  signinError.textContent = '';
  storeToken(token);
  try {
    await gql('{ alerts(first: 1) { id } }');
    connect();
  } catch (error) {
    storeToken(null);
    signinError.textContent = `Sign-in failed: ${errorText(error)}`;
  }
}

function setUpAccount(): void {
  $<HTMLFormElement>('#token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $<HTMLInputElement>('#token')
      .value.trim()
      .replace(/^bearer\s+/i, '');
    if (token) void signIn(token);
  });
  $<HTMLFormElement>('#dev-form').addEventListener('submit', (event) => {
    event.preventDefault();
    devToken($<HTMLInputElement>('#dev-user').value.trim())
      .then(signIn)
      .catch((error: unknown) => ($('#signin-error').textContent = `One-click sign-in: ${errorText(error)}`));
  });
  $('#sign-out').addEventListener('click', () => {
    storeToken(null);
    connect();
  });
  const notify = $<HTMLButtonElement>('#notify');
  const showPermission = (): void => {
    const supported = 'Notification' in window;
    notify.disabled = !supported || Notification.permission !== 'default';
    notify.textContent = !supported
      ? 'Browser notifications: not supported'
      : `Browser notifications: ${Notification.permission === 'default' ? 'enable' : Notification.permission}`;
  };
  showPermission();
  notify.addEventListener('click', () => void Notification.requestPermission().then(showPermission));
}

// --- backtest ---------------------------------------------------------------------------------

function renderBacktestChoices(): void {
  const choices = alerts.filter((alert) => alert.product === product);
  const target = $('#backtest-alerts');
  if (choices.length === 0) {
    const hint = document.createElement('p');
    hint.className = 'hint';
    hint.textContent = storedToken()
      ? `You have no alerts on ${product}.`
      : 'Sign in and create alerts to replay them.';
    return target.replaceChildren(hint);
  }
  target.replaceChildren(
    ...choices.map((alert) => {
      const label = document.createElement('label');
      label.className = 'check';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.name = 'alert';
      box.value = alert.id;
      box.checked = alert.status === 'ACTIVE';
      label.append(box, ` ${describe(alert)}${alert.repeat ? ' repeat' : ''} — ${alert.status}`);
      return label;
    }),
  );
}

const isoOf = (local: string): string | undefined => (local ? new Date(local).toISOString() : undefined);

async function runBacktest(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const form = event.target as HTMLFormElement;
  const data = new FormData(form);
  const chosen = alerts.filter((alert) => data.getAll('alert').includes(alert.id));
  const from = isoOf(String(data.get('from') ?? ''));
  const to = isoOf(String(data.get('to') ?? ''));
  const progress = $('#backtest-progress');
  const button = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
  $('#backtest-error').textContent = '';
  $('#backtest-summary').textContent = '';
  button.disabled = true;
  const started = performance.now();
  const tick = (): void => {
    progress.textContent = `running… ${((performance.now() - started) / 1000).toFixed(1)} s`;
  };
  tick();
  progress.classList.add('busy');
  const ticker = setInterval(tick, 100);
  try {
    const input = {
      product,
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      alerts: chosen.map((alert) => {
        const fields: Record<string, unknown> = {
          condition: alert.condition,
          measure: alert.measure,
          window: alert.window,
          repeat: alert.repeat,
        };
        // Each condition takes only its own fields (the API refuses the others).
        for (const key of ['direction', 'threshold', 'percent', 'low', 'high', 'cooldown'] as const)
          if (alert[key] !== null) fields[key] = alert[key];
        if (alert.condition === 'LEVEL' || alert.condition === 'CROSS') fields.rearmBy = alert.rearmBy;
        return fields;
      }),
    };
    const [{ backtest }, { trades }] = await Promise.all([
      gql<{
        backtest: {
          tradesReplayed: number;
          warmUpTrades: number;
          elapsedMs: number;
          triggers: { alertIndex: number; value: string; trade: Trade }[];
        };
      }>(
        `query Backtest($input: BacktestInput!) { backtest(input: $input) {
          tradesReplayed warmUpTrades elapsedMs triggers { alertIndex value trade { product tradeId price size side time } } } }`,
        { input },
      ),
      gql<{ trades: Trade[] }>(
        'query Trades($product: String!) { trades(product: $product, last: 1000) { product tradeId price size side time } }',
        {
          product,
        },
      ),
    ]);
    $('#backtest-summary').textContent =
      `${backtest.triggers.length} triggers in ${backtest.tradesReplayed} trades replayed ` +
      `(${backtest.warmUpTrades} warm-up) in ${backtest.elapsedMs} ms. The chart shows the range's trades among the latest ${TRADES_LOADED} and every trigger's trade.`;
    const inRange = (trade: Trade): boolean =>
      (!from || Date.parse(trade.time) >= Date.parse(from)) &&
      (!to || Date.parse(trade.time) <= Date.parse(to));
    const element = $('#backtest-chart');
    element.hidden = false;
    backtestChart ??= priceChart(element);
    backtestChart.set(
      'last',
      [...trades.filter(inRange), ...backtest.triggers.map((trigger) => trigger.trade)].map((trade) => ({
        time: secondsOf(trade.time),
        value: Number(trade.price),
      })),
    );
    backtestChart.markers(
      backtest.triggers.map((trigger) => ({
        time: secondsOf(trigger.trade.time),
        text: chosen[trigger.alertIndex] ? condition(chosen[trigger.alertIndex]!) : '',
      })),
    );
  } catch (error) {
    $('#backtest-error').textContent = `Backtest: ${errorText(error)}`;
  } finally {
    clearInterval(ticker);
    progress.classList.remove('busy');
    progress.textContent = `done in ${((performance.now() - started) / 1000).toFixed(1)} s`;
    button.disabled = false;
  }
}

// --- start ------------------------------------------------------------------------------------

async function start(): Promise<void> {
  prepareAlertForm();
  setUpAccount();
  alertForm.addEventListener('submit', (event) => void createAlert(event));
  alertForm.querySelector('[name="condition"]')!.addEventListener('change', showConditionFields);
  $<HTMLFormElement>('#backtest-form').addEventListener('submit', (event) => void runBacktest(event));
  const { products } = await gql<{ products: string[] }>('{ products }');
  product = products[0] ?? '';
  // The chart loads with the default window while the server is asked which windows it keeps.
  connect();
  const windows = await discoverWindows();
  const productPicker = $<HTMLSelectElement>('#product');
  const windowPicker = $<HTMLSelectElement>('#window');
  if (!windows.includes(chosenWindow)) {
    chosenWindow = windows[0] ?? 'all';
    void loadMarket();
  }
  fillSelect(productPicker, products, product);
  fillSelect(windowPicker, windows, chosenWindow);
  fillSelect(alertForm.querySelector('[name="product"]')!, products, product);
  fillSelect(alertForm.querySelector('[name="window"]')!, windows, chosenWindow);
  productPicker.addEventListener('change', () => {
    product = productPicker.value;
    renderBacktestChoices();
    void loadMarket();
  });
  windowPicker.addEventListener('change', () => {
    chosenWindow = windowPicker.value;
    void loadMarket();
  });
}

start().catch((error: unknown) => ($('#market-error').textContent = `Could not start: ${errorText(error)}`));

// Reads a file of historical trades, one trade per line, streamed: CSV with a header
// (`time,trade_id,price,size,side` plus an optional `product` column) or NDJSON (Coinbase REST trades
// `{time,trade_id,price,size,side}` or `match`/`last_match` messages). `.gz` files are decompressed on the fly.
//
// Line-based on purpose: every trade and every error carries the file's line number, one bad line never
// swallows the next, and memory stays flat whatever the file's size. (A CSV field therefore cannot hold a
// line break; trade data has none.)
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { tradeProblem } from '../domain/trades.ts';
import type { TradeInput } from '../domain/types.ts';
import { tradeFromCoinbase } from './protocol.ts';

export type TradeFileFormat = 'csv' | 'ndjson';
export const TRADE_FILE_FORMATS: readonly TradeFileFormat[] = ['csv', 'ndjson'];

export type TradeLine = { line: number; trade: TradeInput } | { line: number; error: string };

export interface ReadTradeFileOptions {
  /** Default: from the extension (.csv; .ndjson, .jsonl, .json), before any .gz. */
  format?: TradeFileFormat | undefined;
  /** For lines that name no product (CSV without a `product` column, REST trades). */
  product?: string | undefined;
  /** The venue the trades happened on, e.g. `coinbase`. */
  source: string;
  /** When given, each trade is also checked as the store would (configured product, price and size > 0,
   *  time), so that a line the store would reject is reported with its number. */
  products?: readonly string[] | undefined;
  /** Called as the file is read with the bytes read so far (of the file on disk), for progress bars. */
  onProgress?: (bytesRead: number) => void;
}

/** The file cannot be read as trades at all (unknown format, bad CSV header, empty); the CLI exits 2 on it. */
export class TradeFileError extends Error {
  readonly code = 'TRADE_FILE';
}

/** The file stopped being readable part way (a truncated or corrupt .gz, an I/O error); every line
 *  before `afterLine` was read. */
export class TradeFileReadError extends Error {
  readonly code = 'TRADE_FILE_READ';
  constructor(
    path: string,
    readonly afterLine: number,
    cause: unknown,
  ) {
    super(
      `${path}: cannot be read past line ${afterLine} (${cause instanceof Error ? cause.message : String(cause)}); truncated or corrupt?`,
      { cause },
    );
  }
}

export function tradeFileFormat(path: string, format?: TradeFileFormat): TradeFileFormat {
  if (format) return format;
  const name = path.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.csv')) return 'csv';
  if (/\.(ndjson|jsonl|json)$/.test(name)) return 'ndjson';
  throw new TradeFileError(
    `cannot tell the format of ${path} from its extension; pass --format csv or --format ndjson`,
  );
}

const REQUIRED_COLUMNS = ['time', 'trade_id', 'price', 'size', 'side'] as const;
type Column = (typeof REQUIRED_COLUMNS)[number] | 'product';
const COLUMN_ALIASES: Record<string, Column> = { product_id: 'product', tradeid: 'trade_id' };

/** Splits one CSV line (RFC 4180 quoting, `""` for a quote inside quotes); undefined when a quote is unbalanced. */
export function splitCsvLine(line: string): string[] | undefined {
  if (!line.includes('"')) return line.split(',');
  const fields: string[] = [];
  let at = 0;
  for (;;) {
    if (line[at] === '"') {
      let value = '';
      let from = at + 1;
      for (;;) {
        const quote = line.indexOf('"', from);
        if (quote < 0) return undefined;
        value += line.slice(from, quote);
        if (line[quote + 1] === '"') {
          value += '"';
          from = quote + 2;
          continue;
        }
        at = quote + 1;
        break;
      }
      fields.push(value);
      if (at === line.length) return fields;
      if (line[at] !== ',') return undefined;
      at += 1;
    } else {
      const comma = line.indexOf(',', at);
      const value = comma < 0 ? line.slice(at) : line.slice(at, comma);
      if (value.includes('"')) return undefined;
      fields.push(value);
      if (comma < 0) return fields;
      at = comma + 1;
    }
  }
}

type LineParser = (text: string, line: number) => TradeLine | undefined;

function csvParser({ product, source }: ReadTradeFileOptions, path: string): LineParser {
  let columns: Map<Column, number> | undefined;
  return (text, line) => {
    const fields = splitCsvLine(text);
    if (!columns) {
      const header = fields?.map((name) =>
        name
          .trim()
          .toLowerCase()
          .replace(/^\uFEFF/, ''),
      );
      columns = new Map(header?.map((name, index) => [COLUMN_ALIASES[name] ?? (name as Column), index]));
      const missing = REQUIRED_COLUMNS.filter((name) => !columns?.has(name));
      if (missing.length > 0) {
        throw new TradeFileError(
          `${path}: the CSV header must name ${REQUIRED_COLUMNS.join(',')} (missing ${missing.join(', ')})`,
        );
      }
      if (!columns.has('product') && !product) {
        throw new TradeFileError(`${path} has no product column; pass --product`);
      }
      return undefined;
    }
    if (!fields) return { line, error: 'unbalanced quotes' };
    if (fields.length < columns.size)
      return { line, error: `expected ${columns.size} fields, got ${fields.length}` };
    const field = (name: Column): string | undefined => {
      const index = columns?.get(name);
      return index === undefined ? undefined : fields[index]?.trim();
    };
    const row: Record<string, unknown> = {
      time: field('time'),
      trade_id: field('trade_id'),
      price: field('price'),
      size: field('size'),
      side: field('side'),
    };
    const rowProduct = field('product');
    if (rowProduct) row.product_id = rowProduct;
    const parsed = tradeFromCoinbase(row, { product, source });
    return 'error' in parsed ? { line, error: parsed.error } : { line, trade: parsed.trade };
  };
}

function ndjsonParser({ product, source }: ReadTradeFileOptions): LineParser {
  return (text, line) => {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return { line, error: 'not valid JSON' };
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message))
      return { line, error: 'not a JSON object' };
    const type = (message as Record<string, unknown>).type;
    if (type !== undefined && type !== 'match' && type !== 'last_match')
      return { line, error: `not a trade (type ${JSON.stringify(type)})` };
    const parsed = tradeFromCoinbase(message as Record<string, unknown>, { product, source });
    return 'error' in parsed ? { line, error: parsed.error } : { line, trade: parsed.trade };
  };
}

function checked(trade: TradeInput, line: number, products: readonly string[]): TradeLine {
  const problem = tradeProblem(trade, products);
  return problem === undefined ? { line, trade } : { line, error: problem };
}

function gunzip(file: ReturnType<typeof createReadStream>): NodeJS.ReadableStream {
  const inflate = createGunzip();
  file.on('error', (error) => inflate.destroy(error)); // pipe() alone would leave the reader waiting
  return file.pipe(inflate);
}

/**
 * The trades of a file in file order, each with its 1-based line number, or the reason a line is not a
 * trade. Blank lines are skipped. Without `products` only the shape is checked; with it, everything the
 * store checks too.
 * Throws TradeFileError before the first line when the file's format or header is unusable or it holds
 * no line at all, the fs error (ENOENT…) when it cannot be opened, and TradeFileReadError after the last
 * line it could read when it cannot be read to its end.
 */
export async function* readTradeFile(path: string, options: ReadTradeFileOptions): AsyncGenerator<TradeLine> {
  const format = tradeFileFormat(path, options.format);
  const { products } = options;
  const parse = format === 'csv' ? csvParser(options, path) : ndjsonParser(options);
  const file = createReadStream(path, { highWaterMark: 256 * 1024 });
  if (options.onProgress) {
    const onProgress = options.onProgress;
    let bytes = 0;
    file.on('data', (chunk) => onProgress((bytes += chunk.length)));
  }
  const text = path.toLowerCase().endsWith('.gz') ? gunzip(file) : file;
  const lines = createInterface({ input: text, crlfDelay: Infinity });
  let line = 0;
  let empty = true;
  try {
    try {
      for await (const content of lines) {
        line += 1;
        if (content.trim() === '') continue;
        empty = false;
        const result = parse(content, line);
        if (result) yield products && 'trade' in result ? checked(result.trade, line, products) : result;
      }
    } catch (error) {
      if (error instanceof TradeFileError) throw error;
      throw new TradeFileReadError(path, line, error);
    }
    if (empty)
      throw new TradeFileError(
        format === 'csv'
          ? `${path} is empty: a CSV needs a header naming ${REQUIRED_COLUMNS.join(',')}`
          : `${path} is empty: no trades to read`,
      );
  } finally {
    lines.close();
    file.destroy();
  }
}

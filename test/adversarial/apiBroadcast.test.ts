// Shared `price` executions are keyed on what the operation means, not on how its text is written:
// a comment, layout or an operation name no longer makes a subscription its own execution.
import { readFile } from 'node:fs/promises';
import { getOperationAST, parse } from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import { createSchema } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { broadcastKey } from '../../src/api/broadcast.ts';

const schema = createSchema({
  typeDefs: await readFile(new URL('../../schema/schema.graphql', import.meta.url), 'utf8'),
});

/** The key ws.ts shares an execution on, for a query and its variables as a client sends them. */
function keyOf(query: string, variables: Record<string, unknown> = {}): string {
  const document = parse(query);
  const operation = getOperationAST(document)!;
  const { coerced } = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  return broadcastKey(document, operation, coerced!);
}

const PRICE = 'subscription { price(product: "BTC-USD", window: "1m") { last count } }';
const WITH_VARIABLE =
  'subscription($w: String = "1m") { price(product: "BTC-USD", window: $w) { last count } }';

describe('one shared execution for', () => {
  it.each([
    ['a comment', `${PRICE} # abuse 17`],
    ['layout', 'subscription{price(product:"BTC-USD",window:"1m"){last\n\n   count}}'],
    ['an operation name', PRICE.replace('subscription', 'subscription Mine')],
  ])('%s', (_name, variant) => {
    expect(keyOf(variant)).toBe(keyOf(PRICE));
  });

  it('a variable left to its default and the same value given', () => {
    expect(keyOf(WITH_VARIABLE, {})).toBe(keyOf(WITH_VARIABLE, { w: '1m' }));
    expect(keyOf(`# x\n${WITH_VARIABLE}`, { w: '1m', unused: 1 })).toBe(keyOf(WITH_VARIABLE));
  });
});

describe('separate executions for', () => {
  it.each([
    ['another window', PRICE.replace('"1m"', '"10m"')],
    ['other fields', PRICE.replace('last count', 'last')],
    ['an alias', PRICE.replace('price(', 'p: price(')],
  ])('%s', (_name, variant) => {
    expect(keyOf(variant)).not.toBe(keyOf(PRICE));
  });

  it('another variable value', () => {
    expect(keyOf(WITH_VARIABLE, { w: '10m' })).not.toBe(keyOf(WITH_VARIABLE, { w: '1m' }));
  });

  it('a fragment of the same name with other fields', () => {
    const withFragment = (fields: string) =>
      `subscription { price(product: "BTC-USD", window: "1m") { ...F } } fragment F on Price { ${fields} }`;
    expect(keyOf(withFragment('last'))).not.toBe(keyOf(withFragment('count')));
  });
});

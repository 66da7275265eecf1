// Which addresses a webhook may reach: refused ones are refused before any connection is made.
import { describe, expect, it } from 'vitest';
import { createSender } from '../../src/webhooks/send.ts';
import { checkTarget, parseTargetUrl, refusedAddress } from '../../src/webhooks/target.ts';
import { startReceiver } from './receiver.ts';

describe('refusedAddress', () => {
  it.each([
    '127.0.0.1',
    '::1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.1.1',
    'fe80::1',
    'fd12:3456::1',
    '100.64.0.1',
    '0.0.0.0',
    '::',
    '224.0.0.1',
    '255.255.255.255',
    '::ffff:10.0.0.1',
    '::ffff:127.0.0.1',
    '64:ff9b::a00:1',
  ])('refuses %s', (address) => {
    expect(refusedAddress(address, false)).toBeDefined();
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111'])(
    'lets the public address %s through',
    (address) => {
      expect(refusedAddress(address, false)).toBeUndefined();
    },
  );

  it('with private targets allowed, lets loopback and private through but never a metadata service', () => {
    expect(refusedAddress('127.0.0.1', true)).toBeUndefined();
    expect(refusedAddress('10.0.0.1', true)).toBeUndefined();
    expect(refusedAddress('fd12::1', true)).toBeUndefined();
    expect(refusedAddress('169.254.169.254', true)).toMatch(/metadata/);
    expect(refusedAddress('fd00:ec2::254', true)).toMatch(/metadata/);
    expect(refusedAddress('::ffff:169.254.169.254', true)).toMatch(/metadata/);
    expect(refusedAddress('0.0.0.0', true)).toBeDefined();
  });
});

describe('URLs', () => {
  it.each([
    ['ftp://example.com/x', /http or https/],
    ['not a url', /absolute URL/],
    ['https://user:pw@example.com/x', /user name or password/],
    [`https://example.com/${'a'.repeat(2100)}`, /at most 2048/],
    ['file:///etc/passwd', /http or https/],
  ])('refuses %s', (url, reason) => {
    const check = parseTargetUrl(url);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.reason).toMatch(reason);
  });

  it.each([
    'http://127.0.0.1:9/x',
    'http://localhost:9/x',
    'http://10.0.0.1/x',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/latest',
    'http://[::ffff:a9fe:a9fe]/',
    'http://2130706433/',
  ])('refuses %s when registering, by its addresses', async (url) => {
    const check = await checkTarget(url, false);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.reason).toMatch(/private or internal address/);
  });
});

describe('sending', () => {
  it('refuses a host that resolves to a private address at connection time, sending nothing', async () => {
    const receiver = await startReceiver();
    const port = new URL(receiver.origin).port;
    const sender = createSender({ allowPrivate: false, timeoutMs: 2000 });
    try {
      // `localhost` passes the URL check but resolves to loopback: the guarded lookup refuses it.
      const byName = await sender.send(`http://localhost:${port}/x`, 'whsec_AAAA', { id: 'm1', body: '{}' });
      expect(byName).toMatchObject({ ok: false, error: expect.stringMatching(/refused target: .*loopback/) });
      const literal = await sender.send(`http://127.0.0.1:${port}/x`, 'whsec_AAAA', { id: 'm2', body: '{}' });
      expect(literal).toMatchObject({ ok: false, error: expect.stringMatching(/refused target/) });
      const metadata = await sender.send('http://169.254.169.254/latest', 'whsec_AAAA', {
        id: 'm3',
        body: '{}',
      });
      expect(metadata).toMatchObject({ ok: false, error: expect.stringMatching(/metadata/) });
      expect(receiver.received).toHaveLength(0);
    } finally {
      sender.close();
      await receiver.close();
    }
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    const receiver = await startReceiver(() => 'hang');
    const sender = createSender({ allowPrivate: true, timeoutMs: 200 });
    try {
      const outcome = await sender.send(`${receiver.origin}/slow`, 'whsec_AAAA', { id: 'm', body: '{}' });
      expect(outcome).toMatchObject({ ok: false, error: 'no answer within 200 ms' });
    } finally {
      sender.close();
      await receiver.close();
    }
  });
});

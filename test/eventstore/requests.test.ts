// The node's own protobuf reading of append requests and writing of BatchAppend answers, checked
// against the generated classes the client uses: every field the client can send is read as they read
// it, including the forms the client's tests never exercise (structured UUIDs, large revisions).
import { describe, expect, it } from 'vitest';
import { sharedPb, streamsPb } from '../../src/eventstore/embedded/protocol.ts';
import {
  decodeAppendRequest,
  decodeBatchAppendRequest,
  encodeBatchAppendSuccess,
  uuidFromText,
} from '../../src/eventstore/embedded/requests.ts';

const empty = () => new sharedPb.Empty();

function proposed<T extends InstanceType<typeof streamsPb.BatchAppendReq.ProposedMessage>>(
  message: T,
  id: InstanceType<typeof sharedPb.UUID>,
): T {
  message.setId(id);
  message.getMetadataMap().set('type', 'TradeRecorded');
  message.getMetadataMap().set('content-type', 'application/json');
  message.getMetadataMap().set('created', 'ignored');
  message.setData(Buffer.from('{"n":1}'));
  message.setCustomMetadata(Buffer.from([1, 2, 3]));
  return message;
}

describe('append requests', () => {
  it('reads a BatchAppend message as the generated classes write it', () => {
    const correlation = new sharedPb.UUID();
    correlation.setString('b1f3d4a6-2c1e-4c55-9d7e-0a1b2c3d4e5f');
    const structured = new sharedPb.UUID.Structured();
    structured.setMostSignificantBits('-1');
    structured.setLeastSignificantBits('42');
    const id = new sharedPb.UUID();
    id.setStructured(structured);
    const identifier = new sharedPb.StreamIdentifier();
    identifier.setStreamName(Buffer.from('trades-BTC-USD'));
    const options = new streamsPb.BatchAppendReq.Options();
    options.setStreamIdentifier(identifier);
    options.setStreamPosition('9007199254740993');
    const request = new streamsPb.BatchAppendReq();
    request.setCorrelationId(correlation);
    request.setOptions(options);
    request.addProposedMessages(proposed(new streamsPb.BatchAppendReq.ProposedMessage(), id));
    request.setIsFinal(true);

    const decoded = decodeBatchAppendRequest(Buffer.from(request.serializeBinary()));
    expect(decoded.correlation).toEqual(Buffer.from(correlation.serializeBinary()));
    expect(decoded.options?.streamName?.toString()).toBe('trades-BTC-USD');
    expect(decoded.options?.expected).toEqual({ kind: 'revision', revision: '9007199254740993' });
    expect(decoded.isFinal).toBe(true);
    expect(decoded.events).toHaveLength(1);
    const [event] = decoded.events;
    expect(event?.id).toEqual({ kind: 'structured', most: 2n ** 64n - 1n, least: 42n });
    expect([event?.type, event?.contentType]).toEqual(['TradeRecorded', 'application/json']);
    expect(event?.data.toString()).toBe('{"n":1}');
    expect([...(event?.customMetadata ?? [])]).toEqual([1, 2, 3]);
  });

  it('reads the options and the events of the plain Append call', () => {
    const options = new streamsPb.AppendReq.Options();
    options.setNoStream(empty());
    const withOptions = new streamsPb.AppendReq();
    withOptions.setOptions(options);
    expect(decodeAppendRequest(Buffer.from(withOptions.serializeBinary()))).toEqual({
      options: { streamName: undefined, expected: { kind: 'no_stream' } },
      proposed: undefined,
    });

    const id = new sharedPb.UUID();
    id.setString('00112233-4455-6677-8899-aabbccddeeff');
    const withEvent = new streamsPb.AppendReq();
    withEvent.setProposedMessage(proposed(new streamsPb.AppendReq.ProposedMessage(), id));
    const decoded = decodeAppendRequest(Buffer.from(withEvent.serializeBinary()));
    expect(decoded.options).toBeUndefined();
    expect(decoded.proposed?.type).toBe('TradeRecorded');
    const text = decoded.proposed?.id?.kind === 'string' ? decoded.proposed.id.text : Buffer.alloc(0);
    expect(uuidFromText(text)?.toString('hex')).toBe('00112233445566778899aabbccddeeff');
  });

  it('refuses truncated messages and text that is not a UUID', () => {
    expect(() => decodeBatchAppendRequest(Buffer.from([0x0a, 0x05, 0x01]))).toThrow(RangeError);
    for (const text of [
      '',
      'not-a-uuid',
      '00112233-4455-6677-8899-aabbccddeef',
      '0011223344556677889gaabbccddeeff',
    ])
      expect(uuidFromText(Buffer.from(text))).toBeUndefined();
  });
});

describe('BatchAppend answers', () => {
  it('are read by the generated classes as the success they report', () => {
    const correlation = new sharedPb.UUID();
    correlation.setString('b1f3d4a6-2c1e-4c55-9d7e-0a1b2c3d4e5f');
    const read = (bytes: Buffer) => streamsPb.BatchAppendResp.deserializeBinary(bytes);

    const written = read(
      encodeBatchAppendSuccess(
        Buffer.from(correlation.serializeBinary()),
        Buffer.from('trades-BTC-USD'),
        { kind: 'exact', revision: 0 },
        { revision: 300, position: 70_000 },
      ),
    );
    expect(written.getCorrelationId()?.getString()).toBe('b1f3d4a6-2c1e-4c55-9d7e-0a1b2c3d4e5f');
    expect(Buffer.from(written.getStreamIdentifier()!.getStreamName_asU8()).toString()).toBe(
      'trades-BTC-USD',
    );
    expect(written.getStreamPosition()).toBe('0');
    expect(written.getSuccess()?.getCurrentRevision()).toBe('300');
    expect(written.getSuccess()?.getPosition()?.getCommitPosition()).toBe('70000');
    expect(written.getSuccess()?.getPosition()?.getPreparePosition()).toBe('70000');

    const nothing = read(
      encodeBatchAppendSuccess(
        Buffer.from(correlation.serializeBinary()),
        Buffer.from('s'),
        { kind: 'no_stream' },
        { revision: 'no_stream', position: undefined },
      ),
    );
    expect(nothing.hasNoStream()).toBe(true);
    expect(nothing.getSuccess()?.hasNoStream()).toBe(true);
    expect(nothing.getSuccess()?.hasNoPosition()).toBe(true);
  });
});

// The gRPC surface of the embedded node: EventStoreDB's Streams (Read, Append, BatchAppend, Delete,
// Tombstone), Gossip.Read, ServerFeatures.GetSupportedMethods, persistent subscriptions and the
// scavenge calls of Operations, answering as EventStoreDB does so that the unmodified
// @eventstore/db-client cannot tell the difference.
import { randomUUID } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type StatusObject,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { NodeLimits } from './limits.ts';
import { startFeed, type EventFilter, type Feed, type FeedSource } from './feed.ts';
import { OperationsService, operationsHandlers } from './operations.ts';
import {
  PersistentSubscriptionsService,
  persistentFeatures,
  startPersistentSubscriptions,
} from './persistent.ts';
import {
  GossipService,
  ServerFeaturesService,
  StreamsService,
  anyPb,
  emptyPb,
  featuresPb,
  gossipPb,
  methodPaths,
  sharedPb,
  statusPb,
  streamsPb,
  type DeleteReq,
  type ReadReq,
  type TombstoneReq,
} from './protocol.ts';
import {
  encodeBatchAppendSuccess,
  uuidFromText,
  type AppendRequest,
  type BatchAppendRequest,
  type ExpectedField,
  type ProposedMessage,
  type UuidField,
} from './requests.ts';
import {
  DeadlineExceededError,
  type CurrentRevision,
  type ExpectedRevision,
  type ProposedEvent,
  type Storage,
  type WriteOutcome,
} from './storage.ts';
import { closeInterruptedScavenge, createScavenger } from './scavenge.ts';
import { encodeStreamNotFound } from './wire.ts';

/** Lets oversize appends arrive whole, so they get EventStoreDB's answer rather than a transport error. */
const MAX_RECEIVE_MESSAGE = 32 * 1024 * 1024;
const SERVER_VERSION = '23.10.0';
/** EventStoreDB's default search window for filtered reads; checkpoints come every multiplier × window. */
const DEFAULT_FILTER_WINDOW = 32;

export interface ServerOptions {
  readonly storage: Storage;
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  readonly limits: NodeLimits;
}

export interface RunningServer {
  readonly port: number;
  readonly connectionString: string;
  stop(): Promise<void>;
}

/** An error status the client converts by its `exception` trailer, as EventStoreDB sends them. */
class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
    readonly trailers: Record<string, string> = {},
  ) {
    super(message);
  }

  toStatus(): Partial<StatusObject> {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(this.trailers)) metadata.set(key, value);
    return { code: this.code, details: this.message, metadata };
  }
}

const badRequest = (message: string): RpcError => new RpcError(status.INVALID_ARGUMENT, message);

const streamDeleted = (stream: string): RpcError =>
  new RpcError(status.FAILED_PRECONDITION, `Event stream '${stream}' is deleted.`, {
    exception: 'stream-deleted',
    'stream-name': stream,
  });

const maxAppendSizeExceeded = (limit: number): RpcError =>
  new RpcError(status.INVALID_ARGUMENT, `Maximum Append Size of ${limit} Exceeded.`, {
    exception: 'maximum-append-size-exceeded',
    'maximum-append-size': String(limit),
  });

/** EventStoreDB's numeric ExpectedVersion constants, used in the unary calls' trailers. */
const expectedVersionNumber = (expected: ExpectedRevision): string => {
  switch (expected.kind) {
    case 'any':
      return '-2';
    case 'no_stream':
      return '-1';
    case 'stream_exists':
      return '-4';
    case 'exact':
      return String(expected.revision);
  }
};

const wrongExpectedVersion = (
  stream: string,
  expected: ExpectedRevision,
  current: CurrentRevision,
): RpcError =>
  new RpcError(
    status.FAILED_PRECONDITION,
    `Append failed due to WrongExpectedVersion. Stream: ${stream}, Expected version: ${expectedVersionNumber(expected)}, Actual version: ${current === 'no_stream' ? -1 : current}`,
    {
      exception: 'wrong-expected-version',
      'stream-name': stream,
      'expected-version': expectedVersionNumber(expected),
      ...(current === 'no_stream' ? {} : { 'actual-version': String(current) }),
    },
  );

const deadlineExceeded = (): RpcError => new RpcError(status.DEADLINE_EXCEEDED, 'Deadline Exceeded');

/** What EventStoreDB answers to calls in flight, and to new ones, while it shuts down. */
const shuttingDown = (): RpcError => new RpcError(status.UNAVAILABLE, 'Server Is Shutting Down');

function toRpcError(error: unknown, logger: Logger): RpcError {
  if (error instanceof RpcError) return error;
  if (error instanceof DeadlineExceededError) return deadlineExceeded();
  logger.error({ err: error }, 'request failed');
  return new RpcError(status.UNKNOWN, error instanceof Error ? error.message : String(error));
}

function streamNameOf(identifier: { getStreamName_asU8(): Uint8Array } | Buffer | undefined): string {
  if (!identifier) throw badRequest('stream identifier is missing');
  const bytes = Buffer.isBuffer(identifier) ? identifier : Buffer.from(identifier.getStreamName_asU8());
  const name = bytes.toString('utf8');
  if (name.length === 0) throw badRequest('stream name is empty');
  return name;
}

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Resolves once the socket has sent HTTP/2's client preface, which is left unread for the HTTP/2
 * session; rejects at the first byte that differs from it, or when it has not come within `timeoutMs`.
 * Without this, sockets that send garbage or nothing would hold a file descriptor for ever.
 */
function awaitPreface(socket: Socket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => settle(new Error('no HTTP/2 preface')), timeoutMs);
    function settle(error?: Error): void {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (error) {
        reject(error);
        return;
      }
      socket.pause();
      socket.unshift(received);
      resolve();
    }
    function onData(chunk: Buffer): void {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const length = Math.min(received.length, HTTP2_PREFACE.length);
      if (!received.subarray(0, length).equals(HTTP2_PREFACE.subarray(0, length)))
        settle(new Error('not HTTP/2'));
      else if (received.length >= HTTP2_PREFACE.length) settle();
    }
    const onClose = (): void => settle(new Error('closed before the preface'));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

function parseRevision(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw badRequest(`revision out of range: ${text}`);
  return value;
}

/** The expected revision of Delete's and Tombstone's options (generated classes). */
interface ExpectedOptions {
  hasRevision(): boolean;
  getRevision(): string;
  hasNoStream(): boolean;
  hasAny(): boolean;
  hasStreamExists(): boolean;
}

function parseExpected(options: ExpectedOptions): ExpectedRevision {
  if (options.hasAny()) return { kind: 'any' };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  if (options.hasRevision()) return { kind: 'exact', revision: parseRevision(options.getRevision()) };
  throw badRequest('expected stream revision is missing');
}

/** The expected revision of an append's options, as decoded by `requests.ts`. */
function expectedOf(field: ExpectedField | undefined): ExpectedRevision {
  if (!field) throw badRequest('expected stream revision is missing');
  if (field.kind === 'revision') return { kind: 'exact', revision: parseRevision(field.revision) };
  return { kind: field.kind };
}

function uuidOf(uuid: UuidField | undefined): Buffer {
  if (!uuid) throw badRequest('event id is missing');
  if (uuid.kind === 'structured') {
    const half = (bits: bigint): string => bits.toString(16).padStart(16, '0');
    return Buffer.from(half(uuid.most) + half(uuid.least), 'hex');
  }
  const bytes = uuidFromText(uuid.text);
  if (!bytes) throw badRequest('event id is not a UUID');
  return bytes;
}

function proposedEvent(message: ProposedMessage): ProposedEvent {
  const { type, contentType } = message;
  if (type === undefined || contentType === undefined) {
    throw new RpcError(
      status.INVALID_ARGUMENT,
      'Required metadata properties are missing: type, content-type',
      {
        exception: 'missing-required-metadata-property',
        'required-metadata-properties': 'type,content-type',
      },
    );
  }
  return {
    id: uuidOf(message.id),
    type,
    contentType,
    data: message.data,
    metadata: message.customMetadata,
  };
}

const eventSize = (event: ProposedEvent): number => event.data.length + event.metadata.length;

function parseFilter(options: ReturnType<ReadReq['getOptions']> & object): EventFilter | undefined {
  if (!options.hasFilter()) return undefined;
  const filter = options.getFilter()!;
  const on = filter.hasEventType() ? 'type' : 'stream';
  const expression = filter.hasEventType() ? filter.getEventType() : filter.getStreamIdentifier();
  if (!expression) throw badRequest('filter expression is missing');
  const regex = expression.getRegex();
  const prefixes = expression.getPrefixList();
  let matches: (value: string) => boolean = () => true;
  if (regex.length > 0) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(regex);
    } catch {
      throw badRequest(`invalid filter regex: ${regex}`);
    }
    matches = (value) => pattern.test(value);
  } else if (prefixes.length > 0) {
    matches = (value) => prefixes.some((prefix) => value.startsWith(prefix));
  }
  const window = filter.hasMax() && filter.getMax() > 0 ? filter.getMax() : DEFAULT_FILTER_WINDOW;
  const multiplier = Math.max(1, filter.getCheckpointintervalmultiplier());
  return { on, matches, checkpointEvery: window * multiplier };
}

function appendResponse(outcome: WriteOutcome): InstanceType<typeof streamsPb.AppendResp> {
  const response = new streamsPb.AppendResp();
  if (outcome.kind === 'success') {
    const success = new streamsPb.AppendResp.Success();
    if (outcome.revision === 'no_stream') success.setNoStream(new sharedPb.Empty());
    else success.setCurrentRevision(String(outcome.revision));
    if (outcome.position === undefined) success.setNoPosition(new sharedPb.Empty());
    else {
      const position = new streamsPb.AppendResp.Position();
      position.setCommitPosition(String(outcome.position));
      position.setPreparePosition(String(outcome.position));
      success.setPosition(position);
    }
    response.setSuccess(success);
    return response;
  }
  if (outcome.kind === 'wrong_expected_version') {
    const wrong = new streamsPb.AppendResp.WrongExpectedVersion();
    if (outcome.current === 'no_stream') wrong.setCurrentNoStream(new sharedPb.Empty());
    else wrong.setCurrentRevision(String(outcome.current));
    const expected = outcome.expected;
    if (expected.kind === 'exact') wrong.setExpectedRevision(String(expected.revision));
    else if (expected.kind === 'any') wrong.setExpectedAny(new sharedPb.Empty());
    else if (expected.kind === 'no_stream') wrong.setExpectedNoStream(new sharedPb.Empty());
    else wrong.setExpectedStreamExists(new sharedPb.Empty());
    response.setWrongExpectedVersion(wrong);
    return response;
  }
  throw new Error('a deleted stream has no append response');
}

function rpcStatus(
  code: status,
  message: string,
  typeName: string,
  details: { serializeBinary(): Uint8Array },
) {
  const result = new statusPb.Status();
  // google.rpc.Code and gRPC's status share their numbers.
  result.setCode(code as number as Parameters<typeof result.setCode>[0]);
  result.setMessage(message);
  const packed = new anyPb.Any();
  packed.pack(details.serializeBinary(), typeName);
  result.setDetails(packed);
  return result;
}

function identifierOf(stream: string) {
  const identifier = new sharedPb.StreamIdentifier();
  identifier.setStreamName(Buffer.from(stream, 'utf8'));
  return identifier;
}

/** The answer to one batch; `correlation` is the request's encoded correlation UUID, echoed as is. */
function batchResponse(
  correlation: Buffer,
  stream: string,
  expected: ExpectedRevision | undefined,
  result: WriteOutcome | RpcError,
): Buffer | InstanceType<typeof streamsPb.BatchAppendResp> {
  if (!(result instanceof RpcError) && result.kind === 'success')
    return encodeBatchAppendSuccess(
      correlation,
      Buffer.from(stream, 'utf8'),
      expected ?? { kind: 'any' },
      result,
    );
  const response = new streamsPb.BatchAppendResp();
  response.setCorrelationId(sharedPb.UUID.deserializeBinary(correlation));
  response.setStreamIdentifier(identifierOf(stream));
  if (expected?.kind === 'exact') response.setStreamPosition(String(expected.revision));
  else if (expected?.kind === 'no_stream') response.setNoStream(new emptyPb.Empty());
  else if (expected?.kind === 'stream_exists') response.setStreamExists(new emptyPb.Empty());
  else response.setAny(new emptyPb.Empty());

  if (result instanceof RpcError) {
    if (result.code === status.DEADLINE_EXCEEDED) {
      response.setError(
        rpcStatus(result.code, result.message, 'event_store.client.Timeout', new sharedPb.Timeout()),
      );
    } else if (result.trailers.exception === 'maximum-append-size-exceeded') {
      const details = new sharedPb.MaximumAppendSizeExceeded();
      details.setMaxappendsize(Number(result.trailers['maximum-append-size']));
      response.setError(
        rpcStatus(result.code, result.message, 'event_store.client.MaximumAppendSizeExceeded', details),
      );
    } else {
      const details = new sharedPb.BadRequest();
      details.setMessage(result.message);
      response.setError(rpcStatus(result.code, result.message, 'event_store.client.BadRequest', details));
    }
    return response;
  }
  if (result.kind === 'wrong_expected_version') {
    const details = new sharedPb.WrongExpectedVersion();
    if (result.current === 'no_stream') details.setCurrentNoStream(new emptyPb.Empty());
    else details.setCurrentStreamRevision(String(result.current));
    const wanted = result.expected;
    if (wanted.kind === 'exact') details.setExpectedStreamPosition(String(wanted.revision));
    else if (wanted.kind === 'any') details.setExpectedAny(new emptyPb.Empty());
    else if (wanted.kind === 'no_stream') details.setExpectedNoStream(new emptyPb.Empty());
    else details.setExpectedStreamExists(new emptyPb.Empty());
    response.setError(
      rpcStatus(
        status.FAILED_PRECONDITION,
        `WrongExpectedVersion for stream ${stream}`,
        'event_store.client.WrongExpectedVersion',
        details,
      ),
    );
  } else {
    const details = new sharedPb.StreamDeleted();
    details.setStreamIdentifier(identifierOf(stream));
    response.setError(
      rpcStatus(
        status.FAILED_PRECONDITION,
        `Event stream '${stream}' is deleted.`,
        'event_store.client.StreamDeleted',
        details,
      ),
    );
  }
  return response;
}

function deletePosition<
  T extends { setPosition(p: P): unknown; setNoPosition(e: InstanceType<typeof sharedPb.Empty>): unknown },
  P extends { setCommitPosition(v: string): unknown; setPreparePosition(v: string): unknown },
>(response: T, makePosition: () => P, position: number | undefined): T {
  if (position === undefined) {
    response.setNoPosition(new sharedPb.Empty());
    return response;
  }
  const value = makePosition();
  value.setCommitPosition(String(position));
  value.setPreparePosition(String(position));
  response.setPosition(value);
  return response;
}

export async function startServer({
  storage,
  host,
  port,
  logger,
  limits,
}: ServerOptions): Promise<RunningServer> {
  const feeds = new Set<Feed>();
  /** Ends each call in flight with UNAVAILABLE when the node stops; calls remove themselves when done. */
  const inFlightCalls = new Set<() => void>();
  let stopping = false;
  const instanceId = randomUUID();
  let advertisedPort = port;
  const advertisedHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;

  const read = (call: ServerWritableStream<ReadReq, Buffer>): void => {
    const fail = (error: unknown): void => {
      const rpc = toRpcError(error, logger);
      call.emit('error', rpc.toStatus());
    };
    try {
      if (stopping) throw shuttingDown();
      const options = call.request.getOptions();
      if (!options) throw badRequest('read options are missing');
      const subscription = options.hasSubscription();
      const forwards = options.getReadDirection() !== streamsPb.ReadReq.Options.ReadDirection.BACKWARDS;
      const limit = subscription ? Number.POSITIVE_INFINITY : Number(options.getCount());
      if (options.getUuidOption()?.hasStructured())
        throw badRequest('structured UUIDs are not supported; request string UUIDs');
      const filter = parseFilter(options);
      let source: FeedSource;
      if (options.hasStream()) {
        const streamOptions = options.getStream()!;
        const name = streamNameOf(streamOptions.getStreamIdentifier());
        const view = storage.viewStream(name);
        if (view.kind === 'tombstoned') throw streamDeleted(name);
        if (!subscription && view.kind === 'missing') {
          call.write(encodeStreamNotFound(name));
          call.end();
          return;
        }
        const last = view.kind === 'present' ? view.lastRevision : -1;
        let revision: number;
        if (streamOptions.hasStart()) revision = 0;
        else if (streamOptions.hasEnd()) revision = subscription || forwards ? last + 1 : last;
        else {
          const given = parseRevision(streamOptions.getRevision());
          revision = subscription ? given + 1 : given;
        }
        source = { kind: 'stream', name, revision };
      } else if (options.hasAll()) {
        const allOptions = options.getAll()!;
        const head = storage.head();
        let position: number;
        if (allOptions.hasStart()) position = 0;
        else if (allOptions.hasEnd()) position = forwards || subscription ? head : head + 1;
        else {
          const given = Number(allOptions.getPosition()?.getCommitPosition() ?? '0');
          if (!Number.isSafeInteger(given) || given < 0) throw badRequest('position out of range');
          // Forward reads include the event at the position; subscriptions and backward reads do not.
          position = forwards && !subscription ? given - 1 : given;
        }
        source = { kind: 'all', position };
      } else {
        throw badRequest('read needs a stream or $all');
      }
      const feed = startFeed({
        storage,
        sink: call,
        source,
        forwards: subscription || forwards,
        limit,
        subscription,
        filter,
        resolveLinks: options.getResolveLinks(),
        pageSize: limits.readPageSize,
        bufferBytes: limits.subscriptionBufferSize,
        onStreamDeleted: (name) => {
          feeds.delete(feed);
          fail(streamDeleted(name));
        },
        onFailure: (error) => {
          feeds.delete(feed);
          fail(error);
        },
      });
      feeds.add(feed);
      const abort = (): void => fail(shuttingDown());
      inFlightCalls.add(abort);
      const stop = (): void => {
        feed.close();
        feeds.delete(feed);
        inFlightCalls.delete(abort);
      };
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
    } catch (error) {
      fail(error);
    }
  };

  const append = (
    call: ServerReadableStream<AppendRequest, unknown>,
    callback: sendUnaryData<unknown>,
  ): void => {
    let stream: string | undefined;
    let expected: ExpectedRevision | undefined;
    const events: ProposedEvent[] = [];
    let size = 0;
    let answered = false;
    const abort = (): void => answer(shuttingDown());
    const answer = (error: RpcError | null, response?: unknown): void => {
      if (answered) return;
      answered = true;
      inFlightCalls.delete(abort);
      if (error) callback(error.toStatus());
      else callback(null, response);
    };
    if (stopping) abort();
    else inFlightCalls.add(abort);
    call.on('data', (request: AppendRequest) => {
      if (answered) return;
      try {
        if (request.options) {
          if (stream !== undefined) throw badRequest('append options sent twice');
          stream = streamNameOf(request.options.streamName);
          expected = expectedOf(request.options.expected);
        } else if (request.proposed) {
          if (stream === undefined) throw badRequest('append options must come first');
          const event = proposedEvent(request.proposed);
          size += eventSize(event);
          if (size > limits.maxAppendSize) throw maxAppendSizeExceeded(limits.maxAppendSize);
          events.push(event);
        } else {
          throw badRequest('empty append request');
        }
      } catch (error) {
        answer(toRpcError(error, logger));
      }
    });
    call.on('error', () => {
      answered = true;
      inFlightCalls.delete(abort);
    });
    call.on('end', () => {
      if (answered) return;
      if (stream === undefined || expected === undefined) {
        answer(badRequest('append options are missing'));
        return;
      }
      const name = stream;
      const deadline = Number(call.getDeadline());
      if (deadline < Date.now()) {
        answer(deadlineExceeded());
        return;
      }
      storage.append(name, expected, events, deadline).then(
        (outcome) =>
          answer(
            outcome.kind === 'stream_deleted' ? streamDeleted(name) : null,
            outcome.kind === 'stream_deleted' ? undefined : appendResponse(outcome),
          ),
        (error: unknown) => answer(toRpcError(error, logger)),
      );
    });
  };

  const batchAppend = (call: ServerDuplexStream<BatchAppendRequest, unknown>): void => {
    interface Batch {
      stream: string;
      expected: ExpectedRevision;
      deadline: number;
      events: ProposedEvent[];
      size: number;
      error?: RpcError;
    }
    const batches = new Map<string, Batch>();
    let inFlight = 0;
    let ended = false;
    const abort = (): void => {
      ended = true;
      call.emit('error', shuttingDown().toStatus());
    };
    const finished = (): void => {
      ended = true;
      inFlightCalls.delete(abort);
    };
    if (stopping) {
      abort();
      return;
    }
    inFlightCalls.add(abort);
    const maybeEnd = (): void => {
      if (ended && inFlight === 0) {
        inFlightCalls.delete(abort);
        if (!call.cancelled && call.writable) call.end();
      }
    };
    const respond = (response: unknown): void => {
      if (!call.cancelled && call.writable) call.write(response);
    };
    call.on('data', (request: BatchAppendRequest) => {
      const correlation = request.correlation;
      if (!correlation) {
        call.emit('error', badRequest('correlation id is missing').toStatus());
        return;
      }
      const key = correlation.toString('latin1');
      let batch = batches.get(key);
      try {
        if (!batch) {
          const options = request.options;
          if (!options) throw badRequest('the first message of a batch must carry its options');
          batch = {
            stream: streamNameOf(options.streamName),
            expected: expectedOf(options.expected),
            deadline: options.deadline ?? Number(call.getDeadline()),
            events: [],
            size: 0,
          };
          batches.set(key, batch);
        }
        for (const message of request.events) {
          if (batch.error) break;
          const event = proposedEvent(message);
          batch.size += eventSize(event);
          if (batch.size > limits.maxAppendSize) {
            batch.error = maxAppendSizeExceeded(limits.maxAppendSize);
            batch.events = [];
          } else {
            batch.events.push(event);
          }
        }
      } catch (error) {
        const rpc = toRpcError(error, logger);
        if (batch) batch.error = rpc;
        else {
          respond(batchResponse(correlation, '', undefined, rpc));
          return;
        }
      }
      if (!request.isFinal) return;
      batches.delete(key);
      const done = batch;
      const error = done.error ?? (done.deadline < Date.now() ? deadlineExceeded() : undefined);
      if (error) {
        respond(batchResponse(correlation, done.stream, done.expected, error));
        return;
      }
      inFlight += 1;
      storage
        .append(done.stream, done.expected, done.events, done.deadline)
        .then(
          (outcome) => respond(batchResponse(correlation, done.stream, done.expected, outcome)),
          (error: unknown) =>
            respond(batchResponse(correlation, done.stream, done.expected, toRpcError(error, logger))),
        )
        .finally(() => {
          inFlight -= 1;
          maybeEnd();
        });
    });
    call.on('end', () => {
      ended = true;
      maybeEnd();
    });
    call.on('error', finished);
    call.on('cancelled', finished);
  };

  const deletion =
    (kind: 'delete' | 'tombstone') =>
    (call: ServerUnaryCall<DeleteReq | TombstoneReq, unknown>, callback: sendUnaryData<unknown>): void => {
      let name = '';
      try {
        const options = call.request.getOptions();
        if (!options) throw badRequest('delete options are missing');
        name = streamNameOf(options.getStreamIdentifier());
        const expected = parseExpected(options);
        const write =
          kind === 'delete' ? storage.softDelete(name, expected) : storage.tombstone(name, expected);
        write.then(
          (outcome) => {
            if (outcome.kind === 'stream_deleted') callback(streamDeleted(name).toStatus());
            else if (outcome.kind === 'wrong_expected_version')
              callback(wrongExpectedVersion(name, outcome.expected, outcome.current).toStatus());
            else if (kind === 'delete')
              callback(
                null,
                deletePosition(
                  new streamsPb.DeleteResp(),
                  () => new streamsPb.DeleteResp.Position(),
                  outcome.position,
                ),
              );
            else
              callback(
                null,
                deletePosition(
                  new streamsPb.TombstoneResp(),
                  () => new streamsPb.TombstoneResp.Position(),
                  outcome.position,
                ),
              );
          },
          (error: unknown) => callback(toRpcError(error, logger).toStatus()),
        );
      } catch (error) {
        callback(toRpcError(error, logger).toStatus());
      }
    };

  const gossipRead = (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
    const member = new gossipPb.MemberInfo();
    const id = new sharedPb.UUID();
    id.setString(instanceId);
    member.setInstanceId(id);
    member.setTimeStamp(String(BigInt(Date.now()) * 10_000n));
    member.setState(gossipPb.MemberInfo.VNodeState.LEADER);
    member.setIsAlive(true);
    const endpoint = new gossipPb.EndPoint();
    endpoint.setAddress(advertisedHost);
    endpoint.setPort(advertisedPort);
    member.setHttpEndPoint(endpoint);
    const info = new gossipPb.ClusterInfo();
    info.setMembersList([member]);
    callback(null, info);
  };

  const supportedMethods = (
    _call: ServerUnaryCall<unknown, unknown>,
    callback: sendUnaryData<unknown>,
  ): void => {
    const methods = [StreamsService, GossipService, ServerFeaturesService]
      .flatMap(methodPaths)
      .map((path) => ({ path, features: [] as string[] }))
      .concat(persistentFeatures())
      .concat(
        methodPaths(OperationsService)
          .filter((path) => /\/(Start|Stop)Scavenge$/.test(path))
          .map((path) => ({ path, features: [] })),
      )
      .map(({ path, features }) => {
        const [, service = '', method = ''] = path.split('/');
        const supported = new featuresPb.SupportedMethod();
        supported.setServiceName(service.toLowerCase());
        supported.setMethodName(method.toLowerCase());
        supported.setFeaturesList(features);
        return supported;
      });
    const result = new featuresPb.SupportedMethods();
    result.setMethodsList(methods);
    result.setEventStoreServerVersion(SERVER_VERSION);
    callback(null, result);
  };

  const server = new Server({
    'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE,
    // Connections without a call are closed; one with a subscription or the client's BatchAppend stream
    // open is never idle. Keepalive pings find peers that vanished while a call was open.
    'grpc.max_connection_idle_ms': limits.connectionIdleTimeoutMs,
    'grpc.keepalive_time_ms': limits.keepAliveIntervalMs,
    'grpc.keepalive_timeout_ms': limits.keepAliveTimeoutMs,
  });
  server.addService(StreamsService, {
    read,
    append,
    batchAppend,
    delete: deletion('delete'),
    tombstone: deletion('tombstone'),
  });
  server.addService(GossipService, { read: gossipRead });
  server.addService(ServerFeaturesService, { getSupportedMethods: supportedMethods });
  const persistent = startPersistentSubscriptions({ storage, logger });
  server.addService(PersistentSubscriptionsService, persistent.handlers);
  await closeInterruptedScavenge(storage);
  const scavenger = createScavenger({
    storage,
    logger,
    nodeEndpoint: () => `${advertisedHost}:${advertisedPort}`,
  });
  server.addService(OperationsService, operationsHandlers(scavenger));

  // Our own listener, handing connections to gRPC: grpc-js leaves Nagle's algorithm on for the sockets it
  // accepts, which holds small responses back until the client's delayed ACK and costs milliseconds per call.
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const listener = createNetServer({ noDelay: true, keepAlive: true }, (socket) => {
    socket.on('error', (error) => logger.debug({ err: error }, 'connection error'));
    awaitPreface(socket, limits.handshakeTimeoutMs).then(
      () => injector.injectConnection(socket),
      () => socket.destroy(),
    );
  });
  const boundPort = await new Promise<number>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(port, host, () => {
      listener.off('error', reject);
      resolve((listener.address() as AddressInfo).port);
    });
  });
  listener.on('error', (error) => logger.error({ err: error }, 'listener error'));
  advertisedPort = boundPort;

  return {
    port: boundPort,
    connectionString: `esdb://${advertisedHost}:${boundPort}?tls=false`,
    stop: async () => {
      // Checkpoints go to the log, so they are written before the server and then the log close.
      await persistent.stop();
      await scavenger.close();
      await new Promise<void>((resolve) => {
        stopping = true;
        listener.close();
        for (const abort of [...inFlightCalls]) abort();
        inFlightCalls.clear();
        for (const feed of feeds) feed.close();
        feeds.clear();
        // Subscriptions and the client's shared BatchAppend stream never end by themselves: give unary
        // calls a moment, then cut the rest so clients see the node go away and reconnect.
        const force = setTimeout(() => server.forceShutdown(), 250);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}

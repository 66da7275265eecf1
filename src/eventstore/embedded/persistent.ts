// EventStoreDB's PersistentSubscriptions gRPC service on the embedded node: create, update, delete,
// get-info, list, read (ack/nack), replay-parked and restart-subsystem. Group definitions live in the
// `$persistentSubscriptionConfig` stream, as in EventStoreDB (the newest event holds them all); each
// group's checkpoint and parked messages in its own streams (persistent-group.ts).
import { createRequire } from 'node:module';
import {
  Metadata,
  status,
  type UntypedServiceImplementation,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServiceDefinition,
  type StatusObject,
} from '@grpc/grpc-js';
import type * as PersistentPbModule from '@eventstore/db-client/generated/persistent_pb.js';
import type { Logger } from 'pino';
import {
  ALL,
  appendSystemEvent,
  compileFilter,
  formatKey,
  startGroup,
  type Consumer,
  type ConsumerStrategy,
  type FilterSpec,
  type Group,
  type GroupConfig,
  type GroupSettings,
  type NackAction,
} from './persistent-group.ts';
import { acceptingBuffers, sharedPb } from './protocol.ts';
import type { Storage } from './storage.ts';
import { encodeConfirmation } from './wire.ts';

const requireFromClient = createRequire(
  createRequire(import.meta.url).resolve('@eventstore/db-client/package.json'),
);
const pb = requireFromClient('./generated/persistent_pb.js') as typeof PersistentPbModule;
const grpcDefinitions = requireFromClient('./generated/persistent_grpc_pb.js') as Record<
  string,
  ServiceDefinition
>;

export const PersistentSubscriptionsService = acceptingBuffers(
  grpcDefinitions.PersistentSubscriptionsService!,
);

/** Every method works on streams and on `$all`, which is what 23.10 advertises and the client asks. */
export const persistentFeatures = (): { path: string; features: string[] }[] =>
  Object.values(PersistentSubscriptionsService).map((method) => ({
    path: method.path,
    features: method.path.endsWith('/RestartSubsystem') ? [] : ['stream', 'all'],
  }));

const CONFIG_STREAM = '$persistentSubscriptionConfig';
const CONFIG_TYPE = '$PersistentConfig';
const TICK_MS = 100;
/** EventStoreDB's ticks (100 ns) per millisecond, for the settings that come in ticks. */
const TICKS_PER_MS = 10_000;
/** The client's `END` for a stream subscription: UInt64.MaxValue. */
const STREAM_END = '18446744073709551615';

type GrpcStatus = Partial<StatusObject>;

function failure(code: status, message: string, trailers: Record<string, string> = {}): GrpcStatus {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return { code, details: message, metadata };
}

class PersistentError extends Error {
  constructor(readonly status: GrpcStatus) {
    super(status.details);
  }
}

const invalid = (message: string): PersistentError =>
  new PersistentError(failure(status.INVALID_ARGUMENT, message));

const groupError = (code: status, exception: string, message: string, stream: string, group: string) =>
  new PersistentError(failure(code, message, { exception, 'stream-name': stream, 'group-name': group }));

const doesNotExist = (stream: string, group: string): PersistentError =>
  groupError(
    status.NOT_FOUND,
    'persistent-subscription-does-not-exist',
    `Subscription group '${group}' on stream '${stream}' does not exist.`,
    stream,
    group,
  );

const statusOf = (error: unknown, logger: Logger): GrpcStatus => {
  if (error instanceof PersistentError) return error.status;
  logger.error({ err: error }, 'persistent subscription request failed');
  return failure(status.UNKNOWN, error instanceof Error ? error.message : String(error));
};

interface StreamChoice {
  hasAll(): boolean;
  hasStreamIdentifier(): boolean;
  getStreamIdentifier(): { getStreamName_asU8(): Uint8Array } | undefined;
}

function sourceOf(options: StreamChoice): string {
  if (options.hasAll()) return ALL;
  const identifier = options.getStreamIdentifier();
  const name = identifier ? Buffer.from(identifier.getStreamName_asU8()).toString('utf8') : '';
  if (name.length === 0) throw invalid('a stream name or $all is required');
  return name;
}

function groupNameOf(options: { getGroupName(): string }): string {
  const name = options.getGroupName();
  if (name.length === 0) throw invalid('group name is required');
  return name;
}

type SettingsMessage = PersistentPbModule.CreateReq.Settings | PersistentPbModule.UpdateReq.Settings;

const STRATEGY_NAMES: Record<number, ConsumerStrategy> = {
  [pb.CreateReq.ConsumerStrategy.DISPATCHTOSINGLE]: 'DispatchToSingle',
  [pb.CreateReq.ConsumerStrategy.ROUNDROBIN]: 'RoundRobin',
  [pb.CreateReq.ConsumerStrategy.PINNED]: 'Pinned',
};

function parseStartPosition(
  options: { hasStart(): boolean; hasEnd(): boolean; hasPosition(): boolean } & {
    getPosition(): { getCommitPosition(): string } | undefined;
  },
): GroupSettings['startFrom'] {
  if (options.hasStart()) return 'start';
  if (options.hasEnd()) return 'end';
  const commit = Number(options.getPosition()?.getCommitPosition() ?? '0');
  if (!Number.isSafeInteger(commit) || commit < 0) throw invalid('start position out of range');
  return commit === 0 ? 'start' : commit;
}

function parseRevisionText(text: string): GroupSettings['startFrom'] {
  if (text === STREAM_END) return 'end';
  const revision = Number(text);
  if (!Number.isSafeInteger(revision) || revision < 0) throw invalid(`start revision out of range: ${text}`);
  return revision === 0 ? 'start' : revision;
}

function parseSettings(
  message: SettingsMessage | undefined,
  startFrom: GroupSettings['startFrom'],
): GroupSettings {
  if (!message) throw invalid('settings are required');
  // 23.10 also takes the strategy by name (CreateReq only); the client sends the enum.
  const named = 'getConsumerStrategy' in message ? message.getConsumerStrategy() : '';
  const strategy = named.length > 0 ? named : STRATEGY_NAMES[message.getNamedConsumerStrategy()];
  if (strategy !== 'DispatchToSingle' && strategy !== 'RoundRobin' && strategy !== 'Pinned')
    throw invalid(`unknown consumer strategy: ${String(strategy)}`);
  const settings: GroupSettings = {
    startFrom,
    resolveLinkTos: message.getResolveLinks(),
    extraStatistics: message.getExtraStatistics(),
    messageTimeoutMs: message.hasMessageTimeoutMs()
      ? message.getMessageTimeoutMs()
      : Number(message.getMessageTimeoutTicks()) / TICKS_PER_MS,
    maxRetryCount: message.getMaxRetryCount(),
    checkpointAfterMs: message.hasCheckpointAfterMs()
      ? message.getCheckpointAfterMs()
      : Number(message.getCheckpointAfterTicks()) / TICKS_PER_MS,
    minCheckpointCount: message.getMinCheckpointCount(),
    maxCheckpointCount: message.getMaxCheckpointCount(),
    maxSubscriberCount: message.getMaxSubscriberCount(),
    liveBufferSize: message.getLiveBufferSize(),
    readBatchSize: message.getReadBatchSize(),
    historyBufferSize: message.getHistoryBufferSize(),
    strategy,
  };
  const nonNegative = [
    'messageTimeoutMs',
    'maxRetryCount',
    'checkpointAfterMs',
    'maxSubscriberCount',
  ] as const;
  for (const key of nonNegative)
    if (!Number.isFinite(settings[key]) || settings[key] < 0) throw invalid(`${key} must not be negative`);
  const positive = ['liveBufferSize', 'readBatchSize', 'historyBufferSize', 'maxCheckpointCount'] as const;
  for (const key of positive) if (!(settings[key] > 0)) throw invalid(`${key} must be greater than 0`);
  if (settings.minCheckpointCount > settings.maxCheckpointCount)
    throw invalid('the minimum checkpoint count must not exceed the maximum');
  return settings;
}

function parseFilterSpec(
  filter: PersistentPbModule.CreateReq.AllOptions.FilterOptions | undefined,
): FilterSpec | undefined {
  if (!filter) return undefined;
  const on = filter.hasEventType() ? 'type' : 'stream';
  const expression = filter.hasEventType() ? filter.getEventType() : filter.getStreamIdentifier();
  if (!expression) throw invalid('filter expression is missing');
  const regex = expression.getRegex();
  const spec: FilterSpec = regex.length > 0 ? { on, regex } : { on, prefixes: expression.getPrefixList() };
  try {
    compileFilter(spec);
  } catch {
    throw invalid(`invalid filter regex: ${regex}`);
  }
  return spec;
}

/** A create or update request, read the same way: both carry a stream (or `$all`) and settings. */
function parseGroupRequest(
  options: PersistentPbModule.CreateReq.Options | PersistentPbModule.UpdateReq.Options | undefined,
): GroupConfig {
  if (!options) throw invalid('options are required');
  const group = groupNameOf(options);
  const settingsMessage = options.getSettings();
  if (options.hasAll()) {
    const all = options.getAll()!;
    const filter = 'hasFilter' in all && all.hasFilter() ? parseFilterSpec(all.getFilter()) : undefined;
    return { stream: ALL, group, filter, settings: parseSettings(settingsMessage, parseStartPosition(all)) };
  }
  const streamOptions = options.getStream();
  const identifier = streamOptions?.getStreamIdentifier() ?? options.getStreamIdentifier();
  const stream = identifier ? Buffer.from(identifier.getStreamName_asU8()).toString('utf8') : '';
  if (stream.length === 0) throw invalid('a stream name or $all is required');
  let startFrom: GroupSettings['startFrom'];
  if (streamOptions?.hasStart()) startFrom = 'start';
  else if (streamOptions?.hasEnd()) startFrom = 'end';
  else if (streamOptions?.hasRevision()) startFrom = parseRevisionText(streamOptions.getRevision());
  else startFrom = parseRevisionText(settingsMessage?.getRevision() ?? '0');
  return { stream, group, settings: parseSettings(settingsMessage, startFrom) };
}

const keyOf = (stream: string, group: string): string => `${stream}::${group}`;

function startFromText(config: GroupConfig): string {
  const { startFrom } = config.settings;
  if (config.stream === ALL) {
    if (startFrom === 'start') return 'C:0/P:0';
    if (startFrom === 'end') return 'C:-1/P:-1';
    return formatKey(ALL, startFrom);
  }
  if (startFrom === 'start') return '0';
  if (startFrom === 'end') return '-1';
  return String(startFrom);
}

function infoMessage(group: Group): PersistentPbModule.SubscriptionInfo {
  const { config } = group;
  const { settings } = config;
  const state = group.info();
  const info = new pb.SubscriptionInfo();
  info.setEventSource(config.stream);
  info.setGroupName(config.group);
  info.setStatus(state.status);
  info.setConnectionsList(
    state.connections.map((connection) => {
      const message = new pb.SubscriptionInfo.ConnectionInfo();
      message.setFrom(connection.from);
      message.setUsername('');
      message.setAverageItemsPerSecond(0);
      message.setTotalItems(String(connection.delivered));
      message.setCountSinceLastMeasurement('0');
      message.setAvailableSlots(connection.availableSlots);
      message.setInFlightMessages(connection.inFlight);
      message.setConnectionName(connection.connectionName);
      return message;
    }),
  );
  info.setAveragePerSecond(Math.round(state.averagePerSecond));
  info.setTotalItems(String(state.delivered));
  info.setCountSinceLastMeasurement('0');
  info.setLastCheckpointedEventPosition(state.lastCheckpoint);
  info.setLastKnownEventPosition(state.lastKnown);
  info.setResolveLinkTos(settings.resolveLinkTos);
  info.setStartFrom(startFromText(config));
  info.setMessageTimeoutMilliseconds(settings.messageTimeoutMs);
  info.setExtraStatistics(settings.extraStatistics);
  info.setMaxRetryCount(settings.maxRetryCount);
  info.setLiveBufferSize(settings.liveBufferSize);
  info.setBufferSize(settings.historyBufferSize);
  info.setReadBatchSize(settings.readBatchSize);
  info.setCheckPointAfterMilliseconds(settings.checkpointAfterMs);
  info.setMinCheckPointCount(settings.minCheckpointCount);
  info.setMaxCheckPointCount(settings.maxCheckpointCount);
  info.setReadBufferCount(state.readBufferCount);
  info.setLiveBufferCount(String(state.liveBufferCount));
  info.setRetryBufferCount(state.retryBufferCount);
  info.setTotalInFlightMessages(state.inFlight);
  info.setOutstandingMessagesCount(state.inFlight);
  info.setNamedConsumerStrategy(settings.strategy);
  info.setMaxSubscriberCount(settings.maxSubscriberCount);
  info.setParkedMessageCount(String(state.parkedCount));
  return info;
}

const NACK_ACTIONS: Record<number, NackAction> = {
  [pb.ReadReq.Nack.Action.UNKNOWN]: 'retry',
  [pb.ReadReq.Nack.Action.PARK]: 'park',
  [pb.ReadReq.Nack.Action.RETRY]: 'retry',
  [pb.ReadReq.Nack.Action.SKIP]: 'skip',
  [pb.ReadReq.Nack.Action.STOP]: 'stop',
};

/** Acks name events by their id's text; the group knows them by their 16 bytes in hex. */
const idsOf = (uuids: readonly InstanceType<typeof sharedPb.UUID>[]): string[] =>
  uuids.map((uuid) => uuid.getString().replace(/-/g, '').toLowerCase());

export interface PersistentSubscriptions {
  readonly handlers: UntypedServiceImplementation;
  /** Writes every group's checkpoint and drops its consumers. */
  stop(): Promise<void>;
}

export function startPersistentSubscriptions({
  storage,
  logger,
}: {
  storage: Storage;
  logger: Logger;
}): PersistentSubscriptions {
  const log = logger.child({ component: 'persistent-subscriptions' });
  const groups = new Map<string, Group>();
  /** Changes to the group definitions, one after the other, each appended with its expected revision. */
  let changes: Promise<unknown> = Promise.resolve();

  const loadConfigs = (): GroupConfig[] => {
    const view = storage.viewStream(CONFIG_STREAM);
    if (view.kind !== 'present') return [];
    const [last] = storage.readStream(view, CONFIG_STREAM, view.lastRevision, false, 1);
    return last ? (JSON.parse(last.data.toString('utf8')) as { groups: GroupConfig[] }).groups : [];
  };

  const startAll = (): void => {
    for (const config of loadConfigs())
      groups.set(keyOf(config.stream, config.group), startGroup({ config, storage, logger: log }));
  };

  const saveConfigs = async (): Promise<void> => {
    const data = Buffer.from(JSON.stringify({ groups: [...groups.values()].map((group) => group.config) }));
    await appendSystemEvent(storage, CONFIG_STREAM, CONFIG_TYPE, data);
  };

  /** Runs one change to the group definitions after those before it. */
  const change = <T>(work: () => Promise<T>): Promise<T> => {
    const next = changes.then(work);
    changes = next.catch(() => undefined);
    return next;
  };

  const existing = (stream: string, group: string): Group => {
    const found = groups.get(keyOf(stream, group));
    if (!found) throw doesNotExist(stream, group);
    return found;
  };

  startAll();
  const timer = setInterval(() => {
    const now = Date.now();
    for (const group of groups.values()) group.tick(now);
  }, TICK_MS);
  timer.unref();

  const unary =
    <Req>(work: (request: Req) => Promise<unknown> | unknown) =>
    (call: ServerUnaryCall<Req, unknown>, callback: sendUnaryData<unknown>): void => {
      Promise.resolve()
        .then(() => work(call.request))
        .then(
          (response) => callback(null, response),
          (error: unknown) => callback(statusOf(error, log)),
        );
    };

  const create = unary<PersistentPbModule.CreateReq>((request) => {
    const config = parseGroupRequest(request.getOptions());
    return change(async () => {
      const key = keyOf(config.stream, config.group);
      if (groups.has(key))
        throw groupError(
          status.ALREADY_EXISTS,
          'persistent-subscription-exists',
          `Subscription group '${config.group}' on stream '${config.stream}' exists.`,
          config.stream,
          config.group,
        );
      groups.set(key, startGroup({ config, storage, logger: log }));
      try {
        await saveConfigs();
      } catch (error) {
        await groups.get(key)?.stop('deleted', false);
        groups.delete(key);
        throw error;
      }
      return new pb.CreateResp();
    });
  });

  const update = unary<PersistentPbModule.UpdateReq>((request) => {
    const given = parseGroupRequest(request.getOptions());
    return change(async () => {
      const key = keyOf(given.stream, given.group);
      const old = existing(given.stream, given.group);
      // The update's AllOptions carry no filter: the group keeps the one it was created with.
      const config: GroupConfig = { ...given, filter: old.config.filter };
      await old.stop('dropped', true);
      groups.set(key, startGroup({ config, storage, logger: log }));
      await saveConfigs();
      return new pb.UpdateResp();
    });
  });

  const remove = unary<PersistentPbModule.DeleteReq>((request) => {
    const options = request.getOptions();
    if (!options) throw invalid('options are required');
    const stream = sourceOf(options);
    const group = groupNameOf(options);
    return change(async () => {
      const found = existing(stream, group);
      groups.delete(keyOf(stream, group));
      await found.stop('deleted', false);
      await saveConfigs();
      return new pb.DeleteResp();
    });
  });

  const getInfo = unary<PersistentPbModule.GetInfoReq>((request) => {
    const options = request.getOptions();
    if (!options) throw invalid('options are required');
    const response = new pb.GetInfoResp();
    response.setSubscriptionInfo(infoMessage(existing(sourceOf(options), groupNameOf(options))));
    return response;
  });

  const list = unary<PersistentPbModule.ListReq>((request) => {
    const options = request.getOptions();
    let chosen = [...groups.values()];
    const forStream = options?.getListForStream();
    if (forStream && !options?.hasListAllSubscriptions()) {
      const identifier = forStream.getStream();
      const stream = forStream.hasAll()
        ? ALL
        : identifier
          ? Buffer.from(identifier.getStreamName_asU8()).toString('utf8')
          : '';
      chosen = chosen.filter((group) => group.config.stream === stream);
      // EventStoreDB answers a stream without groups as a missing group, not with an empty list.
      if (chosen.length === 0) throw doesNotExist(stream, '');
    }
    const response = new pb.ListResp();
    response.setSubscriptionsList(chosen.map(infoMessage));
    return response;
  });

  const replayParked = unary<PersistentPbModule.ReplayParkedReq>((request) => {
    const options = request.getOptions();
    if (!options) throw invalid('options are required');
    const group = existing(sourceOf(options), groupNameOf(options));
    let stopAt: number | undefined;
    if (options.hasStopAt()) {
      stopAt = Number(options.getStopAt());
      if (!Number.isSafeInteger(stopAt) || stopAt < 0) throw invalid('stopAt out of range');
    }
    group.replayParked(stopAt);
    return new pb.ReplayParkedResp();
  });

  const restartSubsystem = unary<unknown>(() =>
    change(async () => {
      const running = [...groups.values()];
      groups.clear();
      await Promise.all(running.map((group) => group.stop('dropped', true)));
      startAll();
      return new sharedPb.Empty();
    }),
  );

  const read = (call: ServerDuplexStream<PersistentPbModule.ReadReq, unknown>): void => {
    let group: Group | undefined;
    let consumer: Consumer | null = null;
    let ended = false;
    const end = (error?: GrpcStatus): void => {
      if (ended) return;
      ended = true;
      if (group && consumer) group.leave(consumer);
      if (error) call.emit('error', error);
      else if (!call.cancelled) call.end();
    };
    call.on('data', (request: PersistentPbModule.ReadReq) => {
      if (ended) return;
      try {
        if (request.hasOptions()) {
          if (group) throw invalid('read options sent twice');
          const options = request.getOptions()!;
          const stream = sourceOf(options);
          const name = groupNameOf(options);
          const bufferSize = options.getBufferSize();
          if (!(bufferSize > 0)) throw invalid('buffer size must be greater than 0');
          if (options.getUuidOption()?.hasStructured())
            throw invalid('structured UUIDs are not supported; request string UUIDs');
          group = existing(stream, name);
          consumer = group.join({
            bufferSize,
            from: call.getPeer(),
            connectionName: String(call.metadata.get('connection-name')[0] ?? ''),
            write: (chunk) => {
              if (!ended && !call.cancelled) call.write(chunk);
            },
            drop: (reason) =>
              end(
                failure(
                  status.CANCELLED,
                  reason === 'deleted'
                    ? `Subscription group '${name}' on stream '${stream}' was deleted.`
                    : `Subscription group '${name}' on stream '${stream}' was dropped.`,
                  {
                    exception: 'persistent-subscription-dropped',
                    'stream-name': stream,
                    'group-name': name,
                    reason,
                  },
                ),
              ),
          });
          if (!consumer)
            throw groupError(
              status.FAILED_PRECONDITION,
              'maximum-subscribers-reached',
              `Maximum subscriptions reached for subscription group '${name}' on stream '${stream}'.`,
              stream,
              name,
            );
          // Events follow on a later turn (the group pumps on setImmediate), so this comes first.
          call.write(encodeConfirmation(keyOf(stream, name)));
          return;
        }
        if (!group || !consumer) throw invalid('read options must come first');
        if (request.hasAck()) group.ack(idsOf(request.getAck()!.getIdsList()));
        else if (request.hasNack()) {
          const nack = request.getNack()!;
          group.nack(idsOf(nack.getIdsList()), NACK_ACTIONS[nack.getAction()] ?? 'retry', nack.getReason());
        }
      } catch (error) {
        end(statusOf(error, log));
      }
    });
    call.on('end', () => end());
    call.on('cancelled', () => end());
    call.on('error', () => end());
    call.on('close', () => end());
  };

  return {
    handlers: {
      create,
      update,
      delete: remove,
      read,
      getInfo,
      replayParked,
      list,
      restartSubsystem,
    },
    async stop() {
      clearInterval(timer);
      await changes;
      await Promise.all([...groups.values()].map((group) => group.stop('dropped', true)));
      groups.clear();
    },
  };
}

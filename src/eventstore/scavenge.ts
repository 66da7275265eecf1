// Starting and following a scavenge on an EventStoreDB node (the embedded one or a real one) through
// the gRPC Operations service, which @eventstore/db-client 6 does not expose: a plain grpc-js client on
// the client package's generated definitions.
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { OperationsService, operationsPb } from './embedded/operations.ts';
import { ScavengeEvent, scavengeStreamOf } from './embedded/scavenge.ts';
import { START, subscribeToStream, type StoreClient } from './store.ts';

export { ScavengeEvent, scavengeStreamOf };

export type ScavengeAnswer = {
  readonly scavengeId: string;
  readonly result: 'started' | 'in_progress' | 'stopped';
};

type Unary = (request: unknown, callback: (error: ServiceError | null, response?: unknown) => void) => void;
const OperationsClient = makeGenericClientConstructor(OperationsService, 'Operations');

/** The first host:port of an `esdb://` connection string, and whether it asks for TLS. */
function endpointOf(connectionString: string): { address: string; tls: boolean } {
  const match = /^esdb(?:\+discover)?:\/\/(?:[^@/]*@)?([^,/?]+)[^?]*(?:\?(.*))?$/.exec(connectionString);
  if (!match) throw new TypeError(`not an esdb:// connection string: ${connectionString}`);
  const query = new URLSearchParams(match[2] ?? '');
  return { address: match[1]!, tls: query.get('tls') !== 'false' };
}

const RESULTS = ['started', 'in_progress', 'stopped'] as const;

function call(connectionString: string, method: 'startScavenge' | 'stopScavenge', request: unknown) {
  const { address, tls } = endpointOf(connectionString);
  const client = new OperationsClient(
    address,
    tls ? credentials.createSsl() : credentials.createInsecure(),
  ) as unknown as Client & Record<typeof method, Unary>;
  return new Promise<ScavengeAnswer>((resolve, reject) => {
    client[method](request, (error, response) => {
      client.close();
      if (error) {
        reject(error);
        return;
      }
      const answer = response as InstanceType<typeof operationsPb.ScavengeResp>;
      resolve({
        scavengeId: answer.getScavengeId(),
        result: RESULTS[answer.getScavengeResult()] ?? 'started',
      });
    });
  });
}

/** StartScavenge; `in_progress` names the scavenge already running. */
export function startScavenge(
  connectionString: string,
  options: { threadCount?: number; startFromChunk?: number } = {},
): Promise<ScavengeAnswer> {
  const request = new operationsPb.StartScavengeReq();
  const requestOptions = new operationsPb.StartScavengeReq.Options();
  requestOptions.setThreadCount(options.threadCount ?? 1);
  requestOptions.setStartFromChunk(options.startFromChunk ?? 0);
  request.setOptions(requestOptions);
  return call(connectionString, 'startScavenge', request);
}

/** StopScavenge; rejects with gRPC NOT_FOUND when that scavenge is not running. */
export function stopScavenge(connectionString: string, scavengeId: string): Promise<ScavengeAnswer> {
  const request = new operationsPb.StopScavengeReq();
  const requestOptions = new operationsPb.StopScavengeReq.Options();
  requestOptions.setScavengeId(scavengeId);
  request.setOptions(requestOptions);
  return call(connectionString, 'stopScavenge', request);
}

export interface ScavengeStep {
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/**
 * Calls `onStep` with every event of the scavenge's own stream as it is written, and resolves with the
 * `$scavengeCompleted` event.
 */
export async function followScavenge(
  client: StoreClient,
  scavengeId: string,
  onStep: (step: ScavengeStep) => void = () => undefined,
): Promise<ScavengeStep> {
  const subscription = subscribeToStream(client, scavengeStreamOf(scavengeId), { fromRevision: START });
  try {
    for await (const event of subscription) {
      const step = { type: event.type, data: event.data as Record<string, unknown> };
      onStep(step);
      if (step.type === ScavengeEvent.completed) return step;
    }
    throw new Error(`the subscription to ${scavengeStreamOf(scavengeId)} ended early`);
  } finally {
    await subscription.unsubscribe();
  }
}

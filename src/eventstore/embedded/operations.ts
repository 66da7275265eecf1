// EventStoreDB's gRPC Operations service, as far as this node does operations: StartScavenge and
// StopScavenge. The other calls (Shutdown, MergeIndexes, ResignNode, SetNodePriority,
// RestartPersistentSubscriptions) answer UNIMPLEMENTED, which grpc-js does for handlers left out.
import { createRequire } from 'node:module';
import {
  Metadata,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type StatusObject,
} from '@grpc/grpc-js';
import type * as OperationsPbModule from '@eventstore/db-client/generated/operations_pb.js';
import type { Scavenger } from './scavenge.ts';

const requireFromClient = createRequire(
  createRequire(import.meta.url).resolve('@eventstore/db-client/package.json'),
);
export const operationsPb = requireFromClient('./generated/operations_pb.js') as typeof OperationsPbModule;
export const OperationsService = (
  requireFromClient('./generated/operations_grpc_pb.js') as Record<string, ServiceDefinition>
).OperationsService!;

type StartScavengeReq = OperationsPbModule.StartScavengeReq;
type StopScavengeReq = OperationsPbModule.StopScavengeReq;
type ScavengeResp = OperationsPbModule.ScavengeResp;
const { ScavengeResult } = operationsPb.ScavengeResp;

const answer = (scavengeId: string, result: OperationsPbModule.ScavengeResp.ScavengeResult): ScavengeResp => {
  const response = new operationsPb.ScavengeResp();
  response.setScavengeId(scavengeId);
  response.setScavengeResult(result);
  return response;
};

const refusal = (
  code: status,
  details: string,
  trailers: Record<string, string> = {},
): Partial<StatusObject> => {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return { code, details, metadata };
};

export function operationsHandlers(scavenger: Scavenger) {
  return {
    startScavenge(
      call: ServerUnaryCall<StartScavengeReq, ScavengeResp>,
      callback: sendUnaryData<ScavengeResp>,
    ) {
      const options = call.request.getOptions();
      // The node is one SQLite file: there are no chunks to start from and the work is serial, so both
      // options are accepted and checked as EventStoreDB checks them, then play no part.
      if (options && options.getThreadCount() < 0) {
        callback(refusal(status.INVALID_ARGUMENT, 'Thread count must be a positive number.'));
        return;
      }
      if (options && options.getStartFromChunk() < 0) {
        callback(refusal(status.INVALID_ARGUMENT, 'Start from chunk must be a positive number.'));
        return;
      }
      const outcome = scavenger.start();
      callback(
        null,
        answer(
          outcome.scavengeId,
          outcome.kind === 'started' ? ScavengeResult.STARTED : ScavengeResult.INPROGRESS,
        ),
      );
    },
    stopScavenge(
      call: ServerUnaryCall<StopScavengeReq, ScavengeResp>,
      callback: sendUnaryData<ScavengeResp>,
    ) {
      const scavengeId = call.request.getOptions()?.getScavengeId() ?? '';
      if (!scavenger.stop(scavengeId)) {
        callback(
          refusal(status.NOT_FOUND, 'Scavenge id was invalid.', {
            exception: 'scavenge-not-found',
            'scavenge-id': scavengeId,
          }),
        );
        return;
      }
      callback(null, answer(scavengeId, ScavengeResult.STOPPED));
    },
  };
}

// The EventStoreDB gRPC contract, taken from the generated code inside @eventstore/db-client so that the
// node and the client can never disagree on a message layout.
import { createRequire } from 'node:module';
import type { ServiceDefinition } from '@grpc/grpc-js';
import type * as StreamsPbModule from '@eventstore/db-client/generated/streams_pb.js';
import { decodeAppendRequest, decodeBatchAppendRequest } from './requests.ts';
import type * as SharedPbModule from '@eventstore/db-client/generated/shared_pb.js';
import type * as StatusPbModule from '@eventstore/db-client/generated/status_pb.js';
import type * as GossipPbModule from '@eventstore/db-client/generated/gossip_pb.js';
import type * as FeaturesPbModule from '@eventstore/db-client/generated/serverfeatures_pb.js';
import type * as AnyPbModule from 'google-protobuf/google/protobuf/any_pb.js';
import type * as EmptyPbModule from 'google-protobuf/google/protobuf/empty_pb.js';

const requireFromClient = createRequire(
  createRequire(import.meta.url).resolve('@eventstore/db-client/package.json'),
);

export const streamsPb = requireFromClient('./generated/streams_pb.js') as typeof StreamsPbModule;
export const sharedPb = requireFromClient('./generated/shared_pb.js') as typeof SharedPbModule;
export const statusPb = requireFromClient('./generated/status_pb.js') as typeof StatusPbModule;
export const gossipPb = requireFromClient('./generated/gossip_pb.js') as typeof GossipPbModule;
export const featuresPb = requireFromClient('./generated/serverfeatures_pb.js') as typeof FeaturesPbModule;
export const anyPb = requireFromClient('google-protobuf/google/protobuf/any_pb.js') as typeof AnyPbModule;
export const emptyPb = requireFromClient(
  'google-protobuf/google/protobuf/empty_pb.js',
) as typeof EmptyPbModule;

type Services = Record<string, ServiceDefinition>;
const streamsGrpc = requireFromClient('./generated/streams_grpc_pb.js') as Services;
const gossipGrpc = requireFromClient('./generated/gossip_grpc_pb.js') as Services;
const featuresGrpc = requireFromClient('./generated/serverfeatures_grpc_pb.js') as Services;

interface Serializable {
  serializeBinary(): Uint8Array;
}

/**
 * The generated definitions only serialise their own message classes. The hot paths (events sent to
 * readers and subscribers) are encoded by hand in `wire.ts` once and shared between subscribers, so
 * responses may also be ready-made Buffers; `decoders` replaces the generated parsing of some requests.
 */
export function acceptingBuffers(
  service: ServiceDefinition,
  decoders: Record<string, (bytes: Buffer) => unknown> = {},
): ServiceDefinition {
  const patched: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(service)) {
    patched[name] = {
      ...method,
      requestDeserialize: decoders[name] ?? method.requestDeserialize,
      responseSerialize: (value: Buffer | Serializable) =>
        Buffer.isBuffer(value) ? value : Buffer.from(value.serializeBinary()),
    };
  }
  return patched as ServiceDefinition;
}

/** The append requests are decoded by hand (`requests.ts`): they carry every event written. */
export const StreamsService = acceptingBuffers(streamsGrpc.StreamsService!, {
  append: decodeAppendRequest,
  batchAppend: decodeBatchAppendRequest,
});
export const GossipService = acceptingBuffers(gossipGrpc.GossipService!);
export const ServerFeaturesService = acceptingBuffers(featuresGrpc.ServerFeaturesService!);

/** Method paths, as the client's ServerFeatures compares them. */
export const methodPaths = (service: ServiceDefinition): string[] =>
  Object.values(service).map((method) => method.path);

export type ReadReq = StreamsPbModule.ReadReq;
export type DeleteReq = StreamsPbModule.DeleteReq;
export type TombstoneReq = StreamsPbModule.TombstoneReq;
export type UUID = SharedPbModule.UUID;

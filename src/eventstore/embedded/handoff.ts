// Handing a batch of writes to the writer thread as one transferred buffer. Structured cloning
// (postMessage) costs microseconds per object, so a batch of thousands of events would spend more time
// being cloned than being written; here the events' fields are copied once into a single ArrayBuffer
// that is moved, not cloned, and only one small object per operation is cloned.
import type { ProposedEvent } from './schema.ts';
import type { WriteOp } from './writer.ts';

/** An operation without its events, which travel in the buffer. */
export type PackedOp =
  | (Omit<Extract<WriteOp, { kind: 'append' }>, 'events'> & { readonly count: number })
  | Exclude<WriteOp, { kind: 'append' }>;

export interface PackedBatch {
  readonly ops: PackedOp[];
  readonly buffer: ArrayBuffer;
}

/** Per event: the id's length (u8), then the lengths of type, content type, data and metadata (u32). */
const HEADER = 1 + 4 * 4;

export function pack(ops: readonly WriteOp[]): PackedBatch {
  let size = 0;
  for (const op of ops)
    if (op.kind === 'append')
      for (const event of op.events)
        size +=
          HEADER +
          event.id.length +
          Buffer.byteLength(event.type) +
          Buffer.byteLength(event.contentType) +
          event.data.length +
          event.metadata.length;
  const target = Buffer.allocUnsafeSlow(size);
  let offset = 0;
  const packedOps = ops.map((op): PackedOp => {
    if (op.kind !== 'append') return op;
    for (const event of op.events) {
      const header = offset;
      offset += HEADER;
      target[header] = event.id.length;
      offset += event.id.copy(target, offset);
      const typeLength = target.write(event.type, offset);
      offset += typeLength;
      const contentTypeLength = target.write(event.contentType, offset);
      offset += contentTypeLength;
      offset += event.data.copy(target, offset);
      offset += event.metadata.copy(target, offset);
      target.writeUInt32LE(typeLength, header + 1);
      target.writeUInt32LE(contentTypeLength, header + 5);
      target.writeUInt32LE(event.data.length, header + 9);
      target.writeUInt32LE(event.metadata.length, header + 13);
    }
    return { kind: 'append', stream: op.stream, expected: op.expected, count: op.events.length };
  });
  return { ops: packedOps, buffer: target.buffer as ArrayBuffer };
}

export function unpack({ ops, buffer }: PackedBatch): WriteOp[] {
  const source = Buffer.from(buffer);
  let offset = 0;
  const take = (length: number): Buffer => source.subarray(offset, (offset += length));
  return ops.map((op): WriteOp => {
    if (op.kind !== 'append') return op;
    const events: ProposedEvent[] = [];
    for (let index = 0; index < op.count; index += 1) {
      const idLength = source[offset]!;
      const typeLength = source.readUInt32LE(offset + 1);
      const contentTypeLength = source.readUInt32LE(offset + 5);
      const dataLength = source.readUInt32LE(offset + 9);
      const metadataLength = source.readUInt32LE(offset + 13);
      offset += HEADER;
      const id = take(idLength);
      const type = take(typeLength).toString('utf8');
      const contentType = take(contentTypeLength).toString('utf8');
      events.push({ id, type, contentType, data: take(dataLength), metadata: take(metadataLength) });
    }
    return { kind: 'append', stream: op.stream, expected: op.expected, events };
  });
}

// The events EventStoreDB writes at the first start of a fresh database: its default users and the
// default ACL settings. They are written here too, so code that reads `$all` meets the same system
// events (streams and types starting with `$`) against this node as against EventStoreDB.
import { randomUUID } from 'node:crypto';
import { uuidBytes, type ProposedEvent, type Storage } from './storage.ts';

/** An event the node writes for itself, with JSON data. */
export const json = (type: string, data: unknown): ProposedEvent => ({
  id: uuidBytes(randomUUID()),
  type,
  contentType: 'application/json',
  data: Buffer.from(JSON.stringify(data), 'utf8'),
  metadata: Buffer.alloc(0),
});

/** EventStoreDB's two default users; this node has no authentication, so no password hashes. */
const USERS = [
  { loginName: 'admin', fullName: 'Event Store Administrator', groups: ['$admins'] },
  { loginName: 'ops', fullName: 'Event Store Operations', groups: ['$ops'] },
];

const DEFAULT_ACL = {
  $userStreamAcl: { $r: '$all', $w: '$all', $d: '$all', $mr: '$all', $mw: '$all' },
  $systemStreamAcl: { $r: '$admins', $w: '$admins', $d: '$admins', $mr: '$admins', $mw: '$admins' },
};

/** Writes the system events once, into a log that has no event yet; a no-op on any other. */
export async function writeSystemEvents(storage: Storage): Promise<void> {
  if (storage.head() !== 0) return;
  for (const user of USERS) {
    await storage.append(`$user-${user.loginName}`, { kind: 'no_stream' }, [
      json('$UserCreated', { ...user, disabled: false }),
    ]);
  }
  await storage.append(
    '$users',
    { kind: 'no_stream' },
    USERS.map((user) => json('$User', user.loginName)),
  );
  await storage.append('$settings', { kind: 'no_stream' }, [json('$settings', DEFAULT_ACL)]);
}

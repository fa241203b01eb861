/**
 * The storage every `gatehouse` command works on: the configured database, opened (and migrated) as the server
 * opens it, with every audit event a command commits also written to `GATEHOUSE_AUDIT_STREAM` (README "Audit
 * stream"), so that changes made with the CLI reach a SIEM as those made through the admin API do. The `stdout`
 * target is written to standard error here: a command's own output (`--json`) stays what it documents.
 */
import type { Configuration } from '../configuration.ts';
import { openAuditStream, streamAuditEvents } from '../operations/audit-stream.ts';
import { openStorage } from '../storage/open-storage.ts';
import type { Storage } from '../storage/storage.ts';

/** @throws when the database cannot be opened or migrated (as `openStorage`). `close()` also closes the stream. */
export async function openCliStorage(configuration: Pick<Configuration, 'database' | 'auditStream'>): Promise<Storage> {
  const storage = await openStorage(configuration.database);
  if (configuration.auditStream === undefined) return storage;
  const stream = openAuditStream(configuration.auditStream, process.stderr);
  const streamed = streamAuditEvents(storage, stream);
  return {
    ...streamed,
    async close() {
      try {
        await streamed.close();
      } finally {
        await stream.close();
      }
    },
  };
}

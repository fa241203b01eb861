/**
 * The storage every `gatehouse` command works on: the configured database, opened (and migrated) as the server
 * opens it, with every audit event a command commits also written to `GATEHOUSE_AUDIT_STREAM` (README "Audit
 * stream"), so that changes made with the CLI reach a SIEM as those made through the admin API do. The `stdout`
 * target is written to standard error here: a command's own output (`--json`) stays what it documents.
 */
import type { Configuration } from '../configuration.ts';
import { type AuditStream, AuditStreamError, openAuditStream, streamAuditEvents } from '../operations/audit-stream.ts';
import { openStorage } from '../storage/open-storage.ts';
import type { Storage } from '../storage/storage.ts';

/**
 * @param options.streamed false for a command that records no audit event (default true).
 * @throws when the stream's file cannot be appended to (before the database is opened: no change is made), or
 *   when the database cannot be opened or migrated (as `openStorage`). `close()` also closes the stream. A write
 *   that fails later is said on standard error and changes no exit code: the change itself was committed.
 */
export async function openCliStorage(configuration: Pick<Configuration, 'database' | 'auditStream'>, options: { streamed?: boolean } = {}): Promise<Storage> {
  const target = configuration.auditStream;
  // A command that records nothing (`audit export`: what to use when the stream cannot be written) opens no stream.
  if (target === undefined || options.streamed === false) return openStorage(configuration.database);
  let stream: AuditStream;
  try {
    stream = openAuditStream(target, { standardOutput: process.stderr });
  } catch (error) {
    if (error instanceof AuditStreamError) throw new Error(`${error.message}; nothing was changed`);
    throw error;
  }
  let storage: Storage;
  try {
    storage = await openStorage(configuration.database);
  } catch (error) {
    await stream.close();
    throw error;
  }
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

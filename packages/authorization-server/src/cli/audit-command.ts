/**
 * `gatehouse audit export --since ISO8601 [--format jsonl|csv]` (issue 14): the audit events to stdout
 * (operations/audit-export.ts); the count goes to stderr so the output stays machine-readable.
 */
import { loadConfiguration } from '../configuration.ts';
import { exportAuditEvents, parseSince } from '../operations/audit-export.ts';
import { openCliStorage } from './cli-storage.ts';

/** @returns the exit code. @throws RangeError for a usage error. */
export async function auditCommand(command: string | undefined, rest: string[], flags: { since: string | undefined; format: string | undefined }): Promise<number> {
  if (command !== 'export' || rest.length > 0) throw new RangeError(`unknown command "audit ${[command, ...rest].join(' ')}"`);
  if (flags.since === undefined) throw new RangeError('--since is required (ISO 8601, e.g. 2026-12-01T00:00:00Z)');
  const since = parseSince(flags.since);
  const format = flags.format ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'csv') throw new RangeError('--format must be jsonl or csv');
  const storage = await openCliStorage(loadConfiguration(), { streamed: false });
  try {
    const count = await exportAuditEvents(storage, since, format, (chunk) => new Promise<void>((resolve, reject) => {
      process.stdout.write(chunk, (error) => (error ? reject(error) : resolve()));
    }));
    console.error(`gatehouse: exported ${count} audit event${count === 1 ? '' : 's'}`);
    return 0;
  } finally {
    await storage.close();
  }
}

/**
 * `gatehouse audit export --since ISO8601 --format jsonl|csv` (issue 14, "Audit log out"): every audit
 * event at or after a time, oldest first, for a SIEM or an auditor. Events never hold a secret or token
 * value (SPEC decision 19), so the export holds none either.
 *
 * - `jsonl`: one JSON object a line: `event_id`, `at` (ISO 8601, UTC), `type`, `actor`, `client_id`,
 *   `grant_id`, `details`.
 * - `csv` (RFC 4180): a header line, then the same columns, `details` as JSON. A cell starting with `=`,
 *   `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so a spreadsheet never runs a partner-chosen
 *   client name as a formula (CSV injection).
 */
import type { Storage, StoredAuditEvent } from '../storage/storage.ts';

export type AuditExportFormat = 'jsonl' | 'csv';

const PAGE_SIZE = 1000;
const COLUMNS = ['event_id', 'at', 'type', 'actor', 'client_id', 'grant_id', 'details'] as const;
/** An ISO 8601 instant with a time zone: `2026-12-01`, `2026-12-01T08:00:00Z`, `2026-12-01T09:00:00+01:00`. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** Seconds since the epoch of an ISO 8601 date or instant. @throws RangeError when it is not one. */
export function parseSince(value: string): number {
  const milliseconds = Date.parse(value);
  if (!ISO_8601.test(value) || Number.isNaN(milliseconds)) {
    throw new RangeError(`--since must be an ISO 8601 date or time with a zone, e.g. 2026-12-01 or 2026-12-01T08:00:00Z (got ${JSON.stringify(value.slice(0, 40))})`);
  }
  return Math.floor(milliseconds / 1000);
}

function row(event: StoredAuditEvent): Record<(typeof COLUMNS)[number], unknown> {
  return {
    event_id: event.eventId, at: new Date(event.at * 1000).toISOString(), type: event.type, actor: event.actor,
    client_id: event.clientId ?? null, grant_id: event.grantId ?? null, details: event.details ?? {},
  };
}

function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * Writes the events with `at >= sinceSeconds` to `write`, page by page (memory stays flat however many).
 * @returns how many events were written.
 */
export async function exportAuditEvents(storage: Storage, sinceSeconds: number, format: AuditExportFormat, write: (chunk: string) => void | Promise<void>): Promise<number> {
  if (format === 'csv') await write(`${COLUMNS.join(',')}\r\n`);
  let after = 0;
  let count = 0;
  for (;;) {
    const page = await storage.audit.listSince(sinceSeconds, after, PAGE_SIZE);
    if (page.length === 0) return count;
    const lines = page.map((event) => {
      const fields = row(event);
      return format === 'jsonl' ? `${JSON.stringify(fields)}\n` : `${COLUMNS.map((column) => csvCell(fields[column])).join(',')}\r\n`;
    });
    await write(lines.join(''));
    count += page.length;
    after = page[page.length - 1]!.eventId;
  }
}

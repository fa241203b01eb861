/**
 * `gatehouse directory import FILE`: the platform's people in one JSON document, upserted idempotently.
 *
 * ```json
 * { "organizations": [{ "id": "…", "name": "…" }],
 *   "companies":     [{ "id": "…", "name": "…", "organization_id": "…" }],
 *   "users":         [{ "id": "…", "email": "…", "name": "…", "locale": "da-DK",
 *                      "administers": [{ "type": "company", "id": "…" }] }] }
 * ```
 * - Every record needs its `id` (the platform's UUID): it is what makes a second run find the record again.
 * - Applied in the order organizations, companies, users, so records may refer to ones earlier in the file.
 * - A user's `administers`, when present, becomes exactly the user's memberships (absent: unchanged); a
 *   company's `organization_id` and a user's `locale` likewise (absent: unchanged; `null` clears).
 * - An `id` given twice in one list refuses every record with it (which one was meant cannot be told).
 * - The file is UTF-8 (a byte order mark is allowed); other encodings are refused, never guessed.
 * - A record equal to what is stored is `unchanged` and keeps its `updated_at`.
 * - Each record is checked on its own (field rules, then references and uniqueness against the database)
 *   and applied in a savepoint: a refused record changes nothing, the others still apply.
 * - `dryRun` computes the same report and rolls everything back.
 */
import type { DirectoryImportRecord, MembershipRecord } from '../storage/storage.ts';
import { DirectoryError, readEmail, readId, readLocale, readName, readSubjectType, refuseUnknownMembers, type DirectoryContext, type Input } from './directory.ts';

export type ImportKind = 'organization' | 'company' | 'user';

export interface ImportRefusal {
  kind: ImportKind;
  /** The record's position in its list (`organizations`, `companies` or `users`), from 0. */
  index: number;
  /** The record's `id` as given, or null when it had none. */
  id: string | null;
  /** The member that was refused. */
  field: string;
  reason: string;
}

export interface ImportReport {
  created: number;
  updated: number;
  unchanged: number;
  refused: ImportRefusal[];
}

export interface ImportOptions {
  dryRun?: boolean;
  /** Records per transaction (each record has its own savepoint inside it). Default 1000. */
  batchSize?: number;
  /** Called after each batch with the records done and the total. */
  onProgress?: (done: number, total: number) => void;
}

const LISTS: [member: string, kind: ImportKind][] = [['organizations', 'organization'], ['companies', 'company'], ['users', 'user']];

/**
 * The text of an import file: UTF-8, with or without a byte order mark.
 * @throws DirectoryError 400 for UTF-16 (by its byte order mark) or bytes that are not UTF-8 (Latin-1, say):
 *   decoding them would store U+FFFD in names and addresses.
 */
export function decodeImportFile(bytes: Uint8Array): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new DirectoryError(400, 'the file is UTF-16; save it as UTF-8');
  }
  try {
    // ignoreBOM false (the default): a UTF-8 byte order mark is dropped.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const line = bytesLineOfFirstInvalid(bytes);
    throw new DirectoryError(400, `the file is not UTF-8 text (line ${line} is not; Latin-1 or Windows-1252?); save it as UTF-8`);
  }
}

/** The 1-based line of the first byte sequence that is not UTF-8 (the file is known to hold one). */
function bytesLineOfFirstInvalid(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 1;
  let start = 0;
  for (let index = 0; index <= bytes.length; index++) {
    if (index < bytes.length && bytes[index] !== 0x0a) continue;
    try {
      decoder.decode(bytes.subarray(start, index));
    } catch {
      return line;
    }
    line++;
    start = index + 1;
  }
  return line;
}

/**
 * Reads the document's text.
 * @throws DirectoryError 400 when it is not JSON, not an object, has other members, or a list is not an array.
 */
export function parseImportDocument(text: string): Input {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new DirectoryError(400, `the file is not JSON: ${error instanceof Error ? error.message : error}`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new DirectoryError(400, 'the document must be an object { "organizations": [...], "companies": [...], "users": [...] }');
  }
  refuseUnknownMembers(document as Input, LISTS.map(([member]) => member));
  for (const [member] of LISTS) {
    const list = (document as Input)[member];
    if (list !== undefined && !Array.isArray(list)) throw new DirectoryError(400, `${member} must be an array`, member);
  }
  return document as Input;
}

/** One record of the document as a storage record; @throws DirectoryError naming the refused field. */
function toImportRecord(kind: ImportKind, record: unknown): DirectoryImportRecord {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new DirectoryError(400, 'each record must be an object', 'record');
  const input = record as Input;
  if (input.id === undefined) throw new DirectoryError(400, 'id is required in an import (it is what a second run matches on)', 'id');
  if (kind === 'user') {
    refuseUnknownMembers(input, ['id', 'email', 'name', 'locale', 'administers']);
    let administers: MembershipRecord[] | undefined;
    if (input.administers !== undefined) {
      if (!Array.isArray(input.administers)) throw new DirectoryError(400, 'administers must be an array of { "type": "company" | "organization", "id": "…" }', 'administers');
      administers = input.administers.map((membership: unknown) => {
        if (typeof membership !== 'object' || membership === null) throw new DirectoryError(400, 'each membership must be { "type", "id" }', 'administers');
        const entry = membership as Input;
        refuseUnknownMembers(entry, ['type', 'id']);
        return { subjectType: readSubjectType(entry.type, 'administers.type'), subjectId: readId(entry.id, 'administers.id') };
      });
    }
    return {
      kind: 'user',
      user: {
        userId: readId(input.id, 'id'), email: readEmail(input.email), name: readName(input.name),
        ...(input.locale === undefined ? {} : { locale: input.locale === null ? null : readLocale(input.locale) }),
      },
      ...(administers ? { administers } : {}),
    };
  }
  refuseUnknownMembers(input, kind === 'company' ? ['id', 'name', 'organization_id'] : ['id', 'name']);
  return {
    kind: 'subject',
    subject: {
      subjectType: kind, subjectId: readId(input.id, 'id'), name: readName(input.name),
      ...(input.organization_id === undefined ? {} : { organizationId: input.organization_id === null ? null : readId(input.organization_id, 'organization_id') }),
    },
  };
}

/**
 * Imports a parsed document (parseImportDocument). Audited per changed record as `context.actor`.
 * @returns the counts and every refused record with its reason.
 */
export async function importDirectory(context: DirectoryContext, document: Input, options: ImportOptions = {}): Promise<ImportReport> {
  const report: ImportReport = { created: 0, updated: 0, unchanged: 0, refused: [] };
  const pending: { kind: ImportKind; index: number; id: string | null; record: DirectoryImportRecord }[] = [];
  for (const [member, kind] of LISTS) {
    const list = (document[member] ?? []) as unknown[];
    const idOf = (record: unknown) => (typeof (record as Input | null)?.id === 'string' ? (record as Input).id as string : null);
    // The same id twice in a list: the later record would silently overwrite the earlier, and a second run
    // would "update" it again; neither is applied.
    const positions = new Map<string, number[]>();
    list.forEach((record, index) => {
      const key = idOf(record)?.toLowerCase();
      if (key !== undefined) positions.set(key, [...(positions.get(key) ?? []), index]);
    });
    list.forEach((record, index) => {
      const id = idOf(record);
      const sharing = id === null ? [] : positions.get(id.toLowerCase())!;
      if (sharing.length > 1) {
        const others = sharing.filter((other) => other !== index).map((other) => `#${other}`).join(', ');
        report.refused.push({ kind, index, id, field: 'id', reason: `id: the same id as ${member} ${others} of this file; none of them is applied` });
        return;
      }
      try {
        pending.push({ kind, index, id, record: toImportRecord(kind, record) });
      } catch (error) {
        if (!(error instanceof DirectoryError)) throw error;
        report.refused.push({ kind, index, id, field: error.field ?? 'record', reason: error.message });
      }
    });
  }
  // A dry run is one transaction rolled back at the end, so later records see the earlier ones as a real run would.
  const batchSize = options.dryRun ? Math.max(pending.length, 1) : options.batchSize ?? 1000;
  for (let start = 0; start < pending.length; start += batchSize) {
    const batch = pending.slice(start, start + batchSize);
    const outcomes = await context.storage.directory.importBatch(batch.map((entry) => entry.record), context.now, context.actor, { dryRun: options.dryRun ?? false });
    outcomes.forEach((outcome, offset) => {
      const entry = batch[offset]!;
      if (outcome.outcome === 'refused') report.refused.push({ kind: entry.kind, index: entry.index, id: entry.id, field: outcome.field, reason: `${outcome.field}: ${outcome.reason}` });
      else report[outcome.outcome] += 1;
    });
    options.onProgress?.(Math.min(start + batchSize, pending.length), pending.length);
  }
  const order: Record<ImportKind, number> = { organization: 0, company: 1, user: 2 };
  report.refused.sort((a, b) => order[a.kind] - order[b.kind] || a.index - b.index);
  return report;
}

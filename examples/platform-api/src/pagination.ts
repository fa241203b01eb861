/** Query parameters of every list endpoint. */
export interface PageRequest {
  /** 1–100; default {@link DEFAULT_PAGE_LIMIT}. */
  readonly limit?: number | undefined;
  /** `pagination.nextCursor` of the previous page. */
  readonly cursor?: string | undefined;
}

/** `{ data: [...], pagination: { nextCursor } }`; `nextCursor` is `null` on the last page. */
export interface Page<Item> {
  readonly data: Item[];
  readonly pagination: { readonly nextCursor: string | null };
}

export const DEFAULT_PAGE_LIMIT = 25;
export const MAX_PAGE_LIMIT = 100;

/** A cursor that this API did not issue for this list. Rendered as 400 `invalid_cursor`. */
export class InvalidCursorError extends Error {
  readonly status = 400;
  readonly error = 'invalid_cursor';
}

interface CursorPayload {
  /** The list the cursor belongs to, so a users cursor cannot page through vendors. */
  readonly list: string;
  /** Sort key of the last item returned. */
  readonly after: string;
}

function encodeCursor(payload: CursorPayload): string {
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, list: string): CursorPayload {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('cursor is not a cursor issued by this API');
  }
  if (
    typeof payload !== 'object' || payload === null ||
    !('list' in payload) || payload.list !== list ||
    !('after' in payload) || typeof payload.after !== 'string'
  ) {
    throw new InvalidCursorError('cursor is not a cursor issued by this API for this list');
  }
  return { list, after: payload.after };
}

/**
 * Keyset pagination: items are ordered by a unique sort key and a cursor holds the key of
 * the last item served, so rows added between requests neither repeat nor vanish the way
 * offsets would make them.
 *
 * @param list a name of the list, bound into the cursor.
 * @param keyOf unique, stable sort key of an item.
 * @throws {InvalidCursorError} for a cursor of another list or not issued by this API.
 */
export function paginate<Item>(items: readonly Item[], list: string, keyOf: (item: Item) => string, request: PageRequest): Page<Item> {
  const limit = request.limit ?? DEFAULT_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new RangeError(`limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
  }
  const after = request.cursor === undefined ? undefined : decodeCursor(request.cursor, list).after;
  const sorted = [...items].sort((left, right) => compareKeys(keyOf(left), keyOf(right)));
  const remaining = after === undefined ? sorted : sorted.filter((item) => compareKeys(keyOf(item), after) > 0);
  const data = remaining.slice(0, limit);
  const last = data.at(-1);
  const nextCursor = remaining.length > limit && last !== undefined ? encodeCursor({ list, after: keyOf(last) }) : null;
  return { data, pagination: { nextCursor } };
}

function compareKeys(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

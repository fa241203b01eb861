/**
 * PostgreSQL's refresh rotations, sent together when they have to wait (issue 12: group commit on
 * PostgreSQL). A rotation is sent at once while fewer than `maxInFlight` calls are under way; the ones that
 * arrive meanwhile queue, and the next free slot sends every queued rotation (up to `maxBatchSize`) as ONE
 * call of `gatehouse_rotate_refresh_tokens` (migration 37): one round trip, one statement, one commit for
 * all of them. Nothing waits for a batch to fill: an idle server sends each rotation alone, a busy one
 * shares its round trips, executor start-ups and WAL flushes.
 *
 * Each rotation in a batch is the same compare-and-swap as alone (SPEC decision 8), and its response still
 * waits for the commit that holds it. A batch is one statement: all of it commits or none. A batch
 * orders its rotations by grant id, so two batches lock their grant rows in the same order; a deadlock with
 * another operation (40P01) rolls the batch back and it runs again. A batch that fails otherwise, and not
 * for an unreachable database, runs again one rotation at a time, so that one rotation's fault (say, a
 * duplicate token digest) is not its neighbours'.
 */
import type { SqlDriver } from '../sql/driver.ts';
import type { AuditEvent, GraceSuccessor, TokenRecord } from '../storage.ts';
import { StorageUnavailableError } from '../storage-unavailable.ts';
import { auditEventColumns } from './audit.ts';
import { retryingDeadlocks } from '../postgres/deadlock-retry.ts';

/** What `tokens.rotateRefreshToken` was given. */
export interface PendingRotation {
  presentedDigest: string;
  now: number;
  newTokens: TokenRecord[];
  auditEvent?: AuditEvent | undefined;
  graceSuccessor?: GraceSuccessor | undefined;
}

export interface RotationBatchOptions {
  /** Calls under way at once; the rest queue and go together. Default 2 (DEFAULT_ROTATIONS_IN_FLIGHT). */
  maxInFlight?: number;
  /** Rotations per call at most. Default 64. */
  maxBatchSize?: number;
}

/**
 * Two: measured on the two-core bench machine (bench/README.md, fourteenth session), 1 to 4 in flight all
 * beat one statement per rotation by 1.5–2×; 2 was best. It leaves the rest of the pool (10 by default) to
 * every other operation.
 */
export const DEFAULT_ROTATIONS_IN_FLIGHT = 2;

const ROTATE_REFRESH_TOKENS = `SELECT gatehouse_rotate_refresh_tokens(${Array.from({ length: 23 }, (_, i) => `$${i + 1}`).join(', ')}) AS rotated`;

export interface RotationBatches {
  /** Resolves true if the rotation happened, false if the presented token was not current (`not_current`). */
  rotate(rotation: PendingRotation): Promise<boolean>;
}

export function createRotationBatches(db: SqlDriver, options: RotationBatchOptions = {}): RotationBatches {
  const maxInFlight = options.maxInFlight ?? DEFAULT_ROTATIONS_IN_FLIGHT;
  const maxBatchSize = options.maxBatchSize ?? 64;
  const queue: Array<{ rotation: PendingRotation; resolve(rotated: boolean): void; reject(error: unknown): void }> = [];
  let inFlight = 0;

  const send = async (batch: typeof queue) => {
    try {
      const rotated = await rotateTogether(db, batch.map((entry) => entry.rotation));
      for (const [i, entry] of batch.entries()) entry.resolve(rotated[i] === true);
    } catch (error) {
      if (batch.length === 1 || error instanceof StorageUnavailableError) {
        for (const entry of batch) entry.reject(error);
        return;
      }
      // Rare: one after another, within this batch's slot.
      for (const entry of batch) {
        try {
          entry.resolve((await rotateTogether(db, [entry.rotation]))[0] === true);
        } catch (alone) {
          entry.reject(alone);
        }
      }
    }
  };
  const pump = () => {
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.splice(0, maxBatchSize);
      inFlight++;
      void send(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  };
  return {
    rotate(rotation) {
      return new Promise((resolve, reject) => {
        queue.push({ rotation, resolve, reject });
        pump();
      });
    },
  };
}

/** One call of gatehouse_rotate_refresh_tokens for `rotations`; whether each happened, in their order. */
async function rotateTogether(db: SqlDriver, rotations: PendingRotation[]): Promise<boolean[]> {
  // By grant id: every batch locks its grants in the same order (no deadlock between two batches).
  const order = rotations.map((_, i) => i);
  const grantOf = (i: number) => rotations[i]!.newTokens[0]?.grantId ?? '';
  order.sort((a, b) => (grantOf(a) < grantOf(b) ? -1 : grantOf(a) > grantOf(b) ? 1 : a - b));
  const sorted = order.map((i) => rotations[i]!);
  const tokens = sorted.flatMap((rotation, i) => rotation.newTokens.map((token) => ({ token, rotation: i + 1 })));
  const audit = sorted.map((rotation) => (rotation.auditEvent ? auditEventColumns(rotation.auditEvent) : [null, null, null, null, null, null]));
  const values = [
    sorted.map((r) => r.presentedDigest), sorted.map((r) => r.now),
    tokens.map(({ token }) => token.tokenDigest), tokens.map(({ token }) => token.tokenId), tokens.map(({ token }) => token.kind),
    tokens.map(({ token }) => token.grantId), tokens.map(({ token }) => token.clientId), tokens.map(({ token }) => token.scope.join(' ')),
    tokens.map(({ token }) => token.issuedAt), tokens.map(({ token }) => token.expiresAt), tokens.map(({ token }) => token.rotatedAt),
    tokens.map(({ token }) => token.revokedAt), tokens.map(({ token }) => token.audience ?? null), tokens.map(({ token }) => token.dpopJkt ?? null),
    tokens.map(({ rotation }) => rotation),
    ...[0, 1, 2, 3, 4, 5].map((column) => audit.map((columns) => columns[column])),
    sorted.map((r) => r.graceSuccessor?.sealedSuccessor ?? null), sorted.map((r) => r.graceSuccessor?.graceExpiresAt ?? null),
  ];
  const row = await retryingDeadlocks(() => db.get<{ rotated: boolean[] }>(ROTATE_REFRESH_TOKENS, values, { name: 'gatehouse_rotate_refresh_tokens' }));
  const rotated: boolean[] = new Array(rotations.length);
  order.forEach((original, position) => {
    rotated[original] = row!.rotated[position] === true;
  });
  return rotated;
}

/**
 * Issue 14 "Audit log out": an optional stream of audit events as JSON lines (one event per line), for a
 * SIEM, written after each event is recorded: `GATEHOUSE_AUDIT_STREAM=stdout` or `file:/absolute/path`
 * (appended to, created if missing).
 *
 * A line is `{"type","at","actor","clientId","grantId","details"}` exactly as recorded (`at` in seconds since
 * the epoch). Audit events never hold a secret, code or token value (storage.ts `AuditEvent`); a stream
 * carries nothing the audit table does not.
 *
 * The events are seen where storage records them: `audit.record`, the consent committed with its code
 * (`authorizationCodes.create`), and the events committed with a code
 * redemption (`grants.issueForCode` or `grants.exchangeCode`, when `issued`) or a rotation (`tokens.rotateRefreshToken` or `tokens.rotateReadyRefreshToken`, when
 * `rotated`): a line is written only once its event is committed. Not streamed: the `directory.*` events
 * storage records itself inside directory changes and imports (storage.ts `DirectoryStore`), which never
 * pass through these arguments; `gatehouse audit export` has them.
 */
import { accessSync, closeSync, constants, createWriteStream, fstatSync, lstatSync, openSync, readlinkSync, readSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { AuditEvent, Storage } from '../storage/storage.ts';

/** Where the stream goes: `stdout`, or a file appended to. */
export type AuditStreamTarget = { kind: 'stdout' } | { kind: 'file'; path: string };

/** Receives each recorded audit event. `close()` flushes and closes a file (stdout stays open). */
export interface AuditStream {
  write(event: AuditEvent): void;
  close(): Promise<void>;
}

/**
 * Parses `GATEHOUSE_AUDIT_STREAM`: `stdout`, or `file:` followed by an absolute path.
 * @returns the target, or a problem sentence (what, the value, what is allowed).
 */
export function parseAuditStreamSetting(value: string): AuditStreamTarget | { problem: string } {
  if (value === 'stdout') return { kind: 'stdout' };
  if (value.startsWith('file:') && isAbsolute(value.slice(5))) return { kind: 'file', path: value.slice(5) };
  return { problem: `GATEHOUSE_AUDIT_STREAM must be stdout or file:/absolute/path (got ${JSON.stringify(value)})` };
}

/**
 * Whether the target's file can be appended to (`gatehouse config check`: the start would refuse it), without
 * creating it. @returns a problem sentence, or undefined (stdout, or a writable file or directory for it).
 */
export function auditStreamTargetProblem(target: AuditStreamTarget): string | undefined {
  if (target.kind === 'stdout') return undefined;
  try {
    const existing = statSync(target.path, { throwIfNoEntry: false });
    if (existing?.isDirectory()) return `GATEHOUSE_AUDIT_STREAM names a directory (${target.path}); name a file in it`;
    // A named pipe without a reader would block the process at open; a socket cannot be opened as a file.
    if (existing && !existing.isFile() && !existing.isCharacterDevice()) return `GATEHOUSE_AUDIT_STREAM must name a regular file (${target.path} is not one)`;
    // A dangling symbolic link (or a chain of them): opening it creates the last one's target, so what must be
    // writable is that target's directory.
    accessSync(existing ? target.path : dirname(danglingLinkTarget(target.path)), constants.W_OK);
    return undefined;
  } catch (error) {
    return cannotAppend(target.path, error);
  }
}

/** The path a missing `path` would be created at: itself, or through each symbolic link (at most 40, as the kernel's ELOOP) the last target. */
function danglingLinkTarget(path: string): string {
  let current = path;
  for (let hops = 0; hops < 40 && lstatSync(current, { throwIfNoEntry: false })?.isSymbolicLink(); hops++) {
    current = resolve(dirname(current), readlinkSync(current));
  }
  return current;
}

const cannotAppend = (path: string, error: unknown) =>
  `GATEHOUSE_AUDIT_STREAM: cannot append to ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;

/** The audit stream's file cannot be used; the message names the setting, the path and why. */
export class AuditStreamError extends Error {
  override readonly name = 'AuditStreamError';
}

/** Whether a non-empty file's last byte is not a newline (false when it cannot be read: nothing to mend then). */
function endsMidLine(path: string, size: number): boolean {
  if (size === 0) return false;
  try {
    const fd = openSync(path, 'r');
    try {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      return last[0] !== 0x0a;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** One JSON line per event: the recorded members only, in a fixed order. */
export function auditEventLine(event: AuditEvent): string {
  return `${JSON.stringify({
    type: event.type, at: event.at, actor: event.actor, clientId: event.clientId ?? null, grantId: event.grantId ?? null, details: event.details ?? {},
  })}\n`;
}

/**
 * Opens the stream: lines go to stdout or are appended to the file, in the order the events were recorded.
 * The file is opened here, synchronously, so a path that cannot be appended to is refused before anything
 * happens (a server start, a CLI change). A write that fails later (a full disk) never takes the process down:
 * `onError` is told once and the stream writes nothing more; the events stay in the database's audit log
 * (`gatehouse audit export`), which a stream line only ever follows.
 * @param options.standardOutput where the `stdout` target writes (the CLI gives standard error: its own output,
 *   `--json` included, stays parseable).
 * @param options.onError told of the first failed write; default a line on standard error.
 * @throws AuditStreamError naming GATEHOUSE_AUDIT_STREAM and why, for a file that cannot be appended to (missing
 *   directory, no permission, a directory, a named pipe or socket).
 */
export function openAuditStream(
  target: AuditStreamTarget, options: { standardOutput?: NodeJS.WritableStream; onError?: (error: Error) => void } = {},
): AuditStream {
  if (target.kind === 'stdout') {
    const standardOutput = options.standardOutput ?? process.stdout;
    return { write: (event) => void standardOutput.write(auditEventLine(event)), close: async () => {} };
  }
  const onError = options.onError
    ?? ((error: Error) => process.stderr.write(`gatehouse: the audit stream ${target.path} could not be written (${(error as NodeJS.ErrnoException).code ?? error.message}); audit events are still recorded in the database (gatehouse audit export)\n`));
  const problem = auditStreamTargetProblem(target);
  if (problem !== undefined) throw new AuditStreamError(problem);
  let fd: number;
  try {
    fd = openSync(target.path, 'a', 0o600);
  } catch (error) {
    throw new AuditStreamError(cannotAppend(target.path, error));
  }
  const file = createWriteStream(target.path, { fd });
  // A write cut short (a disk that filled before a restart) left a partial line: the next line starts on its own.
  if (endsMidLine(target.path, fstatSync(fd).size)) file.write('\n');
  let failed = false;
  const fail = (error: Error) => {
    if (failed) return;
    failed = true;
    onError(error);
  };
  file.on('error', fail);
  return {
    write: (event) => {
      if (!failed) file.write(auditEventLine(event));
    },
    // Resolves once what was written is flushed, or at once after a failure (told to onError already).
    close: () => new Promise<void>((resolve) => {
      // A write that failed destroys the stream at once and says so a tick later: say it now.
      if (file.errored) fail(file.errored);
      if (failed || file.destroyed) resolve();
      // A write that fails while the last lines are flushed is told before close resolves (a CLI exits right after).
      else {
        file.end((error?: Error | null) => {
          if (error) fail(error);
          resolve();
        });
      }
    }),
  };
}

/**
 * The storage, with every audit event it commits also written to `stream`: after `audit.record` or
 * `authorizationCodes.create` (with an `auditEvent`) resolves or `interactions.consumeWithCode` stores its code, and after `grants.issueForCode`, `grants.exchangeCode` or `grants.exchangeReadyCode` returns `issued` or `tokens.rotateRefreshToken` or `tokens.rotateReadyRefreshToken` returns `rotated` with an
 * `auditEvent` argument, or `grants.revoke` returns true with an `effects.auditEvent`, or `tokens.revokeAccessToken` returns true with an `auditEvent`, or
 * `clients.changeStatus` recorded one. Every other operation is passed through untouched.
 */
export function streamAuditEvents(storage: Storage, stream: AuditStream): Storage {
  const record = storage.audit.record.bind(storage.audit);
  const createCode = storage.authorizationCodes.create.bind(storage.authorizationCodes);
  const consumeWithCode = storage.interactions.consumeWithCode.bind(storage.interactions);
  const issueForCode = storage.grants.issueForCode.bind(storage.grants);
  const exchangeCode = storage.grants.exchangeCode.bind(storage.grants);
  const exchangeReadyCode = storage.grants.exchangeReadyCode.bind(storage.grants);
  const revoke = storage.grants.revoke.bind(storage.grants);
  const rotateRefreshToken = storage.tokens.rotateRefreshToken.bind(storage.tokens);
  const rotateReadyRefreshToken = storage.tokens.rotateReadyRefreshToken.bind(storage.tokens);
  const revokeAccessToken = storage.tokens.revokeAccessToken.bind(storage.tokens);
  const changeStatus = storage.clients.changeStatus.bind(storage.clients);
  return {
    ...storage,
    close: storage.close.bind(storage),
    clients: {
      ...storage.clients,
      // SPEC decision 13: a suspension or deletion commits its audit event with it (built from what it revoked).
      async changeStatus(clientId, change) {
        const changed = await changeStatus(clientId, change);
        if (changed.outcome !== 'not_found' && changed.auditEvent) stream.write(changed.auditEvent);
        return changed;
      },
    },
    audit: {
      ...storage.audit,
      async record(event) {
        await record(event);
        stream.write(event);
      },
    },
    interactions: {
      ...storage.interactions,
      async consumeWithCode(interactionDigest, sessionDigest, now, code, auditEvent) {
        const result = await consumeWithCode(interactionDigest, sessionDigest, now, code, auditEvent);
        if (result?.codeCreated) stream.write(auditEvent);
        return result;
      },
    },
    authorizationCodes: {
      ...storage.authorizationCodes,
      async create(code, auditEvent, options) {
        const created = await createCode(code, auditEvent, options);
        if (created && auditEvent) stream.write(auditEvent);
        return created;
      },
    },
    grants: {
      ...storage.grants,
      async issueForCode(codeDigest, grant, tokens, auditEvent) {
        const outcome = await issueForCode(codeDigest, grant, tokens, auditEvent);
        if (outcome === 'issued' && auditEvent) stream.write(auditEvent);
        return outcome;
      },
      async exchangeCode(codeDigest, clientId, now, grant, tokens, auditEvent, authenticated) {
        const result = await exchangeCode(codeDigest, clientId, now, grant, tokens, auditEvent, authenticated);
        if (result.outcome === 'issued' && auditEvent) stream.write(auditEvent);
        return result;
      },
      async exchangeReadyCode(codeDigest, clientId, now, conditions, grantId, tokens, auditEvent) {
        const result = await exchangeReadyCode(codeDigest, clientId, now, conditions, grantId, tokens, auditEvent);
        // The event as recorded: with the code's scope.
        if (result.outcome === 'issued' && result.auditEvent) stream.write(result.auditEvent);
        return result;
      },
      // Issue 15 §5: a revocation commits its audit event with it (GrantRevocationEffects).
      async revoke(grantId, now, reason, effects) {
        const revoked = await revoke(grantId, now, reason, effects);
        if (revoked && effects?.auditEvent) stream.write(effects.auditEvent);
        return revoked;
      },
    },
    tokens: {
      ...storage.tokens,
      async rotateRefreshToken(presentedDigest, now, newTokens, auditEvent, graceSuccessor, authenticated) {
        const outcome = await rotateRefreshToken(presentedDigest, now, newTokens, auditEvent, graceSuccessor, authenticated);
        if (outcome === 'rotated' && auditEvent) stream.write(auditEvent);
        return outcome;
      },
      async rotateReadyRefreshToken(presentedDigest, now, conditions, newTokens, auditEvent, graceSuccessor) {
        const result = await rotateReadyRefreshToken(presentedDigest, now, conditions, newTokens, auditEvent, graceSuccessor);
        // The event as recorded: with the token's grant, scope and id.
        if (result.outcome === 'rotated' && result.auditEvent) stream.write(result.auditEvent);
        return result;
      },
      async revokeAccessToken(tokenDigest, now, auditEvent) {
        const revoked = await revokeAccessToken(tokenDigest, now, auditEvent);
        if (revoked && auditEvent) stream.write(auditEvent);
        return revoked;
      },
    },
  };
}

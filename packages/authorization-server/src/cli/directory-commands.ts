/**
 * The directory commands of `gatehouse` (issue 10 §1), dispatched to by cli/gatehouse.ts:
 *
 *   gatehouse organizations|companies|users create|list|show|update|delete …
 *   gatehouse users grant-admin|revoke-admin USER --company ID | --organization ID
 *   gatehouse users invite USER   (a one-time set-password link, issue 10 §3)
 *   gatehouse directory import FILE [--dry-run]
 *   gatehouse resource-servers create --audience URL [--name N] [--scopes "S …"] | list | delete CLIENT_ID
 *   gatehouse developers add|remove USER
 *
 * All take `--json`. The rules, refusals and audit events are those of the admin API
 * (directory/directory.ts), with the actor `admin:cli`. Exit codes as for the other commands: 0 done,
 * 1 failed, 2 usage error or refused change (and an import in which any record was refused; the others
 * still applied).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { systemClock } from '../clock.ts';
import { loadConfiguration } from '../configuration.ts';
import {
  addDeveloper, createDirectorySubject, createDirectoryUser, deleteDirectorySubject, deleteDirectoryUser, DirectoryError, findDirectorySubject,
  findDirectoryUser, grantAdministration, listDirectorySubjects, listDirectoryUsers, removeDeveloper, revokeAdministration, subjectToJson,
  updateDirectorySubject, updateDirectoryUser, userToJson, type DirectoryContext, type Input,
} from '../directory/directory.ts';
import { decodeImportFile, importDirectory, parseImportDocument, type ImportReport } from '../directory/directory-import.ts';
import { createResourceServer, deleteResourceServer, listResourceServers, resourceServerToJson } from '../directory/resource-servers.ts';
import { directoryResourceCatalogue } from '../directory/resource-servers.ts';
import type { SubjectType } from '../storage/storage.ts';
import { inviteUser } from '../users/password-links.ts';
import { openCliStorage } from './cli-storage.ts';
import { reportCliFailure, unexpectedFailure, wantsJson } from './cli-failure.ts';

export const DIRECTORY_USAGE = `
  gatehouse organizations create [--id UUID] --name NAME [--json]
  gatehouse companies create [--id UUID] --name NAME [--organization UUID] [--json]
  gatehouse users create [--id UUID] --email EMAIL --name NAME [--locale TAG] [--json]
  gatehouse organizations|companies|users list [--limit N] [--cursor C] [--json]   (companies: [--organization UUID]; users: [--email EMAIL])
  gatehouse organizations|companies|users show|delete ID [--json]
  gatehouse organizations|companies update ID [--name NAME] [--organization UUID|""] [--json]
  gatehouse users update ID [--email EMAIL] [--name NAME] [--locale TAG|""] [--json]   (a new e-mail ends the user's sessions, voids links, clears the password)
  gatehouse users grant-admin|revoke-admin USER_ID --company UUID | --organization UUID [--json]
  gatehouse users invite USER_ID [--json]   (a one-time set-password link, valid 72 hours)
  gatehouse directory import FILE [--dry-run] [--json]
  gatehouse resource-servers create --audience URL [--name NAME] [--scopes "SCOPE ..."] [--json]
  gatehouse resource-servers list [--json]
  gatehouse resource-servers delete CLIENT_ID [--json]
  gatehouse developers add|remove USER_ID [--json]`;

/** The first words this module answers for. */
export const DIRECTORY_COMMAND_GROUPS = new Set(['organizations', 'companies', 'users', 'directory', 'resource-servers', 'developers']);

class UsageError extends Error {}

const OPTIONS = {
  id: { type: 'string' }, name: { type: 'string' }, email: { type: 'string' }, locale: { type: 'string' }, organization: { type: 'string' },
  company: { type: 'string' }, audience: { type: 'string' }, scopes: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' },
  'dry-run': { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
} as const;
type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Records between two progress lines of an import (on stderr), and the size from which they are printed. */
const PROGRESS_MIN_RECORDS = 1_000;

/**
 * Runs one directory command (argv without the program name, starting with its group).
 * @returns the exit code; prints results on stdout, refusals and progress on stderr.
 */
export async function runDirectoryCommand(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (error) {
    return reportCliFailure(
      error instanceof UsageError ? { error: 'usage', line: error.message, description: error.message, exitCode: 2, usage: `Usage:${DIRECTORY_USAGE}` }
        : error instanceof DirectoryError
          ? { error: error.error, line: `refused (${error.error}${error.field ? `, ${error.field}` : ''}): ${error.message}`, description: error.message, field: error.field, exitCode: 2 }
          : unexpectedFailure(error),
      wantsJson(argv),
    );
  }
}

async function dispatch(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const [group, command, ...rest] = positionals as [string, string | undefined, ...string[]];
  if (values.help) {
    console.log(`Usage:${DIRECTORY_USAGE}`);
    return 0;
  }
  // Every argument is checked before the database is opened (or created).
  const step = plan(group, command, rest, values);
  const configuration = loadConfiguration();
  const storage = await openCliStorage(configuration);
  try {
    return await step({ storage, environment: configuration.environment, now: systemClock.nowSeconds(), actor: 'admin:cli', defaultAudience: configuration.apiAudience, urnNamespace: configuration.urnNamespace });
  } finally {
    await storage.close();
  }
}

type Step = (context: DirectoryContext) => Promise<number>;

function one(rest: string[], what: string, usage: string): string {
  if (rest.length !== 1) throw new UsageError(`"${usage}" needs exactly one ${what}`);
  // Ids are UUIDs, stored lowercase; a FILE keeps its case.
  return what === 'FILE' ? rest[0]! : rest[0]!.toLowerCase();
}

function none(rest: string[], usage: string): void {
  if (rest.length > 0) throw new UsageError(`"${usage}" takes no arguments (got "${rest.join(' ')}")`);
}

/** Refuses flags the command does not take (a misspelt or misplaced flag must not be ignored). */
function only(values: Values, allowed: string[], usage: string): void {
  for (const [flag, value] of Object.entries(values)) {
    if (value === undefined || value === false || flag === 'json' || allowed.includes(flag)) continue;
    throw new UsageError(`--${flag} is not an option of "${usage}"`);
  }
}

function print(json: boolean | undefined, value: unknown, text: string): number {
  console.log(json ? JSON.stringify(value, null, 2) : text);
  return 0;
}

function plan(group: string, command: string | undefined, rest: string[], values: Values): Step {
  const usage = `${group} ${command ?? ''}`.trim();
  if (!command) throw new UsageError(`"${group}" needs a command`);
  if (group === 'directory') {
    if (command !== 'import') throw new UsageError(`unknown command "${usage}"`);
    const file = one(rest, 'FILE', usage);
    only(values, ['dry-run'], usage);
    return (context) => importCommand(context, file, values['dry-run'], values.json);
  }
  if (group === 'resource-servers') return resourceServerStep(command, rest, values, usage);
  if (group === 'developers') {
    if (command !== 'add' && command !== 'remove') throw new UsageError(`unknown command "${usage}"`);
    const userId = one(rest, 'USER_ID', usage);
    only(values, [], usage);
    return async (context) => {
      await (command === 'add' ? addDeveloper(context, userId) : removeDeveloper(context, userId));
      const message = command === 'add' ? `User ${userId} is a partner developer.` : `User ${userId} is no longer a partner developer.`;
      return print(values.json, { user_id: userId, developer: command === 'add' }, message);
    };
  }
  if (group === 'users') return userStep(command, rest, values, usage);
  return subjectStep(group === 'companies' ? 'company' : 'organization', command, rest, values, usage);
}

function listQuery(values: Values): Input {
  return { ...(values.limit !== undefined ? { limit: values.limit } : {}), ...(values.cursor !== undefined ? { cursor: values.cursor } : {}) };
}

function moreLine(nextCursor: string | null): string {
  return nextCursor ? `\nMore: --cursor ${nextCursor}` : '';
}

function subjectStep(subjectType: SubjectType, command: string, rest: string[], values: Values, usage: string): Step {
  const json = values.json;
  const organizationFlag = subjectType === 'company' ? ['organization'] : [];
  const fields = (): Input => ({
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.organization !== undefined ? { organization_id: values.organization === '' ? null : values.organization } : {}),
  });
  const line = (subject: ReturnType<typeof subjectToJson>) =>
    `${subject.id}  ${subject.name}${'organization_id' in subject && subject.organization_id ? `  (organization ${subject.organization_id})` : ''}`;
  switch (command) {
    case 'create':
      none(rest, usage);
      only(values, ['id', 'name', ...organizationFlag], usage);
      if (values.name === undefined) throw new UsageError('--name is required');
      return async (context) => {
        const subject = subjectToJson(await createDirectorySubject(context, subjectType, { ...(values.id !== undefined ? { id: values.id } : {}), ...fields() }));
        return print(json, subject, `Created ${subjectType} ${line(subject)}`);
      };
    case 'list':
      none(rest, usage);
      only(values, ['limit', 'cursor', ...organizationFlag], usage);
      return async (context) => {
        const page = await listDirectorySubjects(context.storage, subjectType, { ...listQuery(values), ...(values.organization !== undefined ? { organization_id: values.organization } : {}) });
        const data = page.data.map(subjectToJson);
        return print(json, { data, next_cursor: page.nextCursor }, (data.length ? data.map(line).join('\n') : `No ${subjectType === 'company' ? 'companies' : 'organizations'}.`) + moreLine(page.nextCursor));
      };
    case 'show': {
      const id = one(rest, 'ID', usage);
      only(values, [], usage);
      return async (context) => {
        const subject = subjectToJson(await findDirectorySubject(context.storage, subjectType, id));
        return print(json, subject, line(subject));
      };
    }
    case 'update': {
      const id = one(rest, 'ID', usage);
      only(values, ['name', ...organizationFlag], usage);
      return async (context) => {
        const subject = subjectToJson(await updateDirectorySubject(context, subjectType, id, fields()));
        return print(json, subject, `Updated ${subjectType} ${line(subject)}`);
      };
    }
    case 'delete': {
      const id = one(rest, 'ID', usage);
      only(values, [], usage);
      return async (context) => {
        const { grantsRevoked, apiKeysRevoked } = await deleteDirectorySubject(context, subjectType, id);
        return print(json, { id, deleted: true, grants_revoked: grantsRevoked, api_keys_revoked: apiKeysRevoked },
          `Deleted ${subjectType} ${id}; revoked ${grantsRevoked} grant${grantsRevoked === 1 ? '' : 's'} and ${apiKeysRevoked} API key${apiKeysRevoked === 1 ? '' : 's'}.`);
      };
    }
  }
  throw new UsageError(`unknown command "${usage}"`);
}

function userStep(command: string, rest: string[], values: Values, usage: string): Step {
  const json = values.json;
  const fields = (): Input => ({
    ...(values.email !== undefined ? { email: values.email } : {}),
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.locale !== undefined ? { locale: values.locale === '' ? null : values.locale } : {}),
  });
  const line = (user: ReturnType<typeof userToJson>) => `${user.id}  ${user.email}  ${user.name}${user.locale ? `  (${user.locale})` : ''}`;
  switch (command) {
    case 'create':
      none(rest, usage);
      only(values, ['id', 'email', 'name', 'locale'], usage);
      if (values.email === undefined || values.name === undefined) throw new UsageError('--email and --name are required');
      return async (context) => {
        const user = userToJson(await createDirectoryUser(context, { ...(values.id !== undefined ? { id: values.id } : {}), ...fields() }));
        return print(json, user, `Created user ${line(user)}`);
      };
    case 'list':
      none(rest, usage);
      only(values, ['limit', 'cursor', 'email'], usage);
      return async (context) => {
        const page = await listDirectoryUsers(context.storage, { ...listQuery(values), ...(values.email !== undefined ? { email: values.email } : {}) });
        const data = page.data.map((user) => userToJson(user));
        return print(json, { data, next_cursor: page.nextCursor }, (data.length ? data.map(line).join('\n') : 'No users.') + moreLine(page.nextCursor));
      };
    case 'show': {
      const id = one(rest, 'ID', usage);
      only(values, [], usage);
      return async (context) => {
        const { user, administers } = await findDirectoryUser(context.storage, id);
        const shown = userToJson(user, administers);
        return print(json, shown, `${line(shown)}\nadministers: ${administers.map((membership) => `${membership.subjectType} ${membership.subjectId}`).join(', ') || 'nothing'}`);
      };
    }
    case 'update': {
      const id = one(rest, 'ID', usage);
      only(values, ['email', 'name', 'locale'], usage);
      return async (context) => {
        const user = userToJson(await updateDirectoryUser(context, id, fields()));
        return print(json, user, `Updated user ${line(user)}`);
      };
    }
    case 'delete': {
      const id = one(rest, 'ID', usage);
      only(values, [], usage);
      return async (context) => {
        const result = await deleteDirectoryUser(context, id);
        return print(json, { id, deleted: true, login_sessions_ended: result.loginSessionsEnded, memberships_removed: result.membershipsRemoved },
          `Deleted user ${id}; ended ${result.loginSessionsEnded} login session${result.loginSessionsEnded === 1 ? '' : 's'}, removed ${result.membershipsRemoved} membership${result.membershipsRemoved === 1 ? '' : 's'}.`);
      };
    }
    case 'invite': {
      // Issue 10 §3: a one-time set-password link for the user (72 h); printed once, never stored.
      const id = one(rest, 'USER_ID', usage);
      only(values, [], usage);
      return async (context) => {
        const invitation = await inviteUser(context, loadConfiguration().issuer, id);
        return print(json, invitation, `Set-password link for user ${id} (single use, expires ${invitation.expires_at}):\n${invitation.url}`);
      };
    }
    case 'grant-admin':
    case 'revoke-admin': {
      const userId = one(rest, 'USER_ID', usage);
      only(values, ['company', 'organization'], usage);
      if ((values.company === undefined) === (values.organization === undefined)) throw new UsageError(`"${usage}" needs exactly one of --company ID and --organization ID`);
      const subjectType: SubjectType = values.company !== undefined ? 'company' : 'organization';
      const subjectId = (values.company ?? values.organization)!;
      return async (context) => {
        if (command === 'grant-admin') await grantAdministration(context, userId, subjectType, subjectId);
        else await revokeAdministration(context, userId, subjectType, subjectId);
        const administers = command === 'grant-admin';
        return print(json, { user_id: userId, subject_type: subjectType, subject_id: subjectId.toLowerCase(), administers },
          `User ${userId} ${administers ? 'administers' : 'no longer administers'} ${subjectType} ${subjectId.toLowerCase()}.`);
      };
    }
  }
  throw new UsageError(`unknown command "${usage}"`);
}

function resourceServerStep(command: string, rest: string[], values: Values, usage: string): Step {
  const json = values.json;
  switch (command) {
    case 'create':
      none(rest, usage);
      only(values, ['audience', 'name', 'scopes'], usage);
      if (values.audience === undefined) throw new UsageError('--audience is required: the API\'s URI, as access tokens carry it in aud');
      return async (context) => {
        const { client, clientSecret, resource } = await createResourceServer(context, {
          audience: values.audience, ...(values.name !== undefined ? { name: values.name } : {}), ...(values.scopes !== undefined ? { scopes: values.scopes } : {}),
        });
        return print(json, { ...resourceServerToJson(client, await directoryResourceCatalogue(context)), client_secret: clientSecret },
          `Registered resource server "${client.clientName}" for audience ${client.audience}\nclient_id:     ${client.clientId}\nclient_secret: ${clientSecret}\n`
          + (resource ? `scopes:        ${resource.scopes.join(' ')} (clients request them with resource=${resource.resource})\n` : '') + '\n'
          + 'The secret is shown only this once. The API introspects with these credentials (HTTP Basic) at /oauth/token/introspect.');
      };
    case 'list':
      none(rest, usage);
      only(values, [], usage);
      return async (context) => {
        const catalogue = await directoryResourceCatalogue(context);
        const servers = (await listResourceServers(context)).map((client) => resourceServerToJson(client, catalogue));
        return print(json, servers, servers.length
          ? servers.map((server) => `${server.client_id}  ${server.audience}  ${server.name}${server.scopes?.length ? `  [${server.scopes.join(' ')}]` : ''}`).join('\n')
          : 'No resource servers.');
      };
    case 'delete': {
      const clientId = one(rest, 'CLIENT_ID', usage);
      only(values, [], usage);
      return async (context) => {
        const deleted = resourceServerToJson(await deleteResourceServer(context, clientId));
        return print(json, deleted, `Deleted resource server ${clientId}: its credentials no longer work.`);
      };
    }
  }
  throw new UsageError(`unknown command "${usage}"`);
}

/** `gatehouse directory import FILE`: exit 0 when nothing was refused, 2 when any record was. */
async function importCommand(context: DirectoryContext, file: string, dryRun: boolean | undefined, json: boolean | undefined): Promise<number> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    // Not a usage mistake (the command was right): one line, no usage, exit 2 as for a file refused whole.
    throw new DirectoryError(400, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : error)}`);
  }
  const document = parseImportDocument(decodeImportFile(bytes));
  let nextProgressAt = 0;
  const report: ImportReport = await importDirectory(context, document, {
    dryRun: dryRun ?? false,
    onProgress(done, total) {
      if (total < PROGRESS_MIN_RECORDS || (done < nextProgressAt && done < total)) return;
      nextProgressAt = done + Math.max(PROGRESS_MIN_RECORDS, Math.ceil(total / 20));
      process.stderr.write(`gatehouse: ${dryRun ? 'checked' : 'imported'} ${done} of ${total} records\n`);
    },
  });
  if (json) {
    console.log(JSON.stringify({ ...report, refused: report.refused.map(({ kind, index, id, field, reason }) => ({ kind, index, id, field, reason })), dry_run: dryRun ?? false }, null, 2));
  } else {
    console.log(`${dryRun ? 'Dry run (nothing was changed): would have ' : ''}created ${report.created}, updated ${report.updated}, unchanged ${report.unchanged}, refused ${report.refused.length}.`);
    for (const refusal of report.refused) console.log(`  refused ${refusal.kind} #${refusal.index}${refusal.id ? ` (${refusal.id})` : ''}: ${refusal.reason}`);
  }
  return report.refused.length > 0 ? 2 : 0;
}

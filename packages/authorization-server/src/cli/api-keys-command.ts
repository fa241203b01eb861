/**
 * `gatehouse api-keys …` (issue 16): API keys from the command line; never a key value (they exist only
 * as digests).
 *
 * - `api-keys list [--subject-urn URN] [--client-id ID] [--all]` lists keys (newest first; `--all` adds
 *   revoked, deleted and rotated ones);
 * - `api-keys revoke KEY_ID` revokes one at once (audit `api_key.revoked`, actor `admin:cli`);
 * - `api-keys enable-integration CLIENT_ID [--scope "a:b c:d"]` lets a client offer integrated keys
 *   (default its registered scopes, never wider); `api-keys disable-integration CLIENT_ID` stops it.
 */
import { parseArgs } from 'node:util';
import { parseScope, parseSubjectUrn } from '@gatehouse/protocol';
import { systemClock } from '../clock.ts';
import { loadConfiguration } from '../configuration.ts';
import { apiKeyJson } from '../admin/api-key-api.ts';
import { disableApiKeyIntegration, enableApiKeyIntegration, revokeApiKey, type ApiKeyAdministration } from '../api-keys/api-key-service.ts';
import { openCliStorage } from './cli-storage.ts';
import { reportCliFailure } from './cli-failure.ts';

export const API_KEYS_USAGE = `
  gatehouse api-keys list [--subject-urn URN] [--client-id CLIENT_ID] [--all] [--json]
  gatehouse api-keys revoke KEY_ID [--json]
  gatehouse api-keys enable-integration CLIENT_ID [--scope "a:b c:d"] [--json]
  gatehouse api-keys disable-integration CLIENT_ID [--json]`;

const iso = (seconds: number | null) => (seconds === null ? '-' : new Date(seconds * 1000).toISOString());

/**
 * @param argv the arguments after `api-keys`.
 * @throws RangeError for a bad flag or command (the CLI's usage error, exit 2).
 * @returns the exit code: 0 done, 1 not found or already revoked.
 */
export async function apiKeysCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true,
      options: { 'subject-urn': { type: 'string' }, 'client-id': { type: 'string' }, all: { type: 'boolean', default: false }, scope: { type: 'string' }, json: { type: 'boolean', default: false } },
    });
  } catch (error) {
    throw new RangeError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  const configuration = loadConfiguration();
  const ns = configuration.urnNamespace;
  if (command === 'list') {
    if (rest.length > 0 || values.scope !== undefined) throw new RangeError('"api-keys list" takes only --subject-urn, --client-id, --all and --json');
    const subject = values['subject-urn'] === undefined ? undefined : parseSubjectUrn(ns, values['subject-urn']);
    if (values['subject-urn'] !== undefined && !subject) throw new RangeError(`--subject-urn must be urn:${ns}:company:UUID or urn:${ns}:organization:UUID`);
    return withAdministration(configuration, async (administration) => {
      const now = administration.clock.nowSeconds();
      const keys = (await administration.storage.apiKeys.list({ ...subject, clientId: values['client-id'], includeRevoked: values.all })).map((key) => apiKeyJson(key, ns, now));
      if (values.json) console.log(JSON.stringify(keys, null, 2));
      else if (keys.length === 0) console.log('No API keys.');
      else {
        for (const key of keys) {
          console.log(`${key.key_id}  ${key.state.padEnd(7)}  ${key.key_type.padEnd(10)}  ${key.display_prefix}…  ${key.name}`);
          console.log(`    ${key.subject_urn}  scope "${key.scope}"  created ${iso(key.created_at)}  expires ${iso(key.expires_at)}  last used ${iso(key.last_used_at)}`);
        }
      }
      return 0;
    });
  }
  if (command === 'revoke') {
    if (rest.length !== 1) throw new RangeError('"api-keys revoke" needs exactly one KEY_ID');
    return withAdministration(configuration, async (administration) => {
      const outcome = await revokeApiKey(administration, rest[0]!, 'admin:cli', 'revoked');
      if (values.json) console.log(JSON.stringify({ key_id: rest[0], outcome }));
      else console.log(outcome === 'revoked' ? 'Revoked: requests with this key are refused (resource servers within 5 s).' : outcome === 'not_found' ? 'No API key with that id.' : 'The API key was already revoked.');
      // README "The CLI": an unknown or already revoked key is a refused change (2).
      return outcome === 'revoked' ? 0 : 2;
    });
  }
  if (command === 'enable-integration' || command === 'disable-integration') {
    if (rest.length !== 1) throw new RangeError(`"api-keys ${command}" needs exactly one CLIENT_ID`);
    if (command === 'disable-integration' && values.scope !== undefined) throw new RangeError('--scope is an option of "api-keys enable-integration"');
    return withAdministration(configuration, async (administration) => {
      const clientId = rest[0]!;
      if (command === 'disable-integration') {
        const done = await disableApiKeyIntegration(administration, clientId, 'admin:cli');
        console.log(values.json ? JSON.stringify({ client_id: clientId, disabled: done }) : done ? 'The client no longer offers integrated API keys; its keys stop working at once.' : 'The client did not offer integrated API keys.');
        return done ? 0 : 2;
      }
      const client = await administration.storage.clients.find(clientId);
      if (!client || client.kind !== 'client' || client.status === 'deleted') {
        return reportCliFailure({ error: 'not_found', line: 'no client with that id', description: 'no client with that id', exitCode: 2 }, values.json);
      }
      const scopes = values.scope === undefined ? client.scopes : parseScope(values.scope);
      if (!scopes || scopes.length === 0 || scopes.some((scope) => !client.scopes.includes(scope))) throw new RangeError('--scope must be a non-empty subset of the client\'s registered scopes');
      await enableApiKeyIntegration(administration, client, scopes, 'admin:cli');
      console.log(values.json ? JSON.stringify({ client_id: clientId, scope: scopes.join(' ') }) : `${client.clientName} offers integrated API keys with scope "${scopes.join(' ')}".`);
      return 0;
    });
  }
  throw new RangeError(`unknown command "api-keys ${positionals.join(' ')}"`);
}

async function withAdministration(configuration: ReturnType<typeof loadConfiguration>, work: (administration: ApiKeyAdministration) => Promise<number>): Promise<number> {
  const storage = await openCliStorage(configuration);
  try {
    return await work({ storage, clock: systemClock, options: { brand: { name: configuration.brandName, urnNamespace: configuration.urnNamespace } } });
  } finally {
    await storage.close();
  }
}

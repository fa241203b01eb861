/**
 * `gatehouse clients webhook CLIENT_ID …` (issue 15 §5): the admin API's webhook settings, log and resend
 * from the command line, through the same functions (webhooks/webhook-endpoint.ts), audited as `admin:cli`.
 *
 *   --url URL [--events "grant.revoked client.deleted"|all]  set the URL (a new whsec_ secret, printed once)
 *   --events "…"|all      change only which events it receives
 *   --rotate-secret       a new secret for the same URL, printed once
 *   --remove              remove the webhook
 *   --show                the settings (never the secret)
 *   --deliveries          the delivery log, newest first (100)
 *   --resend DELIVERY_ID  send one delivery again (the same webhook-id)
 * Exit codes: 0 done, 1 nothing to act on (no webhook, no such delivery), 2 usage.
 */
import { deliveryJson } from '../admin/webhook-api.ts';
import { generateTokenKey, type Configuration } from '../configuration.ts';
import type { Storage } from '../storage/storage.ts';
import {
  removeClientWebhook, resendWebhookDelivery, rotateClientWebhookSecret, setClientWebhook, setClientWebhookEvents,
} from '../webhooks/webhook-endpoint.ts';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/webhook-events.ts';

export const WEBHOOK_USAGE = `  gatehouse clients webhook CLIENT_ID --url URL [--events "TYPE…"|all] | --events "TYPE…"|all | --rotate-secret
                                     | --remove | --show | --deliveries | --resend DELIVERY_ID [--json]
                           (event types: ${WEBHOOK_EVENT_TYPES.join(', ')})`;

/** The flags this command reads (parsed by gatehouse.ts). */
export interface WebhookFlags {
  url?: string;
  events?: string;
  remove?: boolean;
  'rotate-secret'?: boolean;
  show?: boolean;
  deliveries?: boolean;
  resend?: string;
  json?: boolean;
}

const ACTIONS = ['url', 'events', 'remove', 'rotate-secret', 'show', 'deliveries', 'resend'] as const;

/** Why the flags do not make one webhook action (undefined when they do). Checked before the database is opened. */
export function webhookUsageProblem(command: string, flags: WebhookFlags): string | undefined {
  const given = ACTIONS.filter((name) => flags[name] !== undefined && flags[name] !== false);
  if (command !== 'webhook') return given.length > 0 ? `--${given.join(', --')}: options of "clients webhook"` : undefined;
  const actions = given.filter((name) => !(name === 'events' && flags.url !== undefined));
  if (actions.length !== 1) return '"clients webhook" needs exactly one of --url URL [--events …], --events, --rotate-secret, --remove, --show, --deliveries, --resend ID';
  return undefined;
}

/** `--events "a b"` or `all` as the API's `event_types` (null = every event). */
const eventTypes = (value: string | undefined) => (value === undefined ? undefined : value.trim() === 'all' ? null : value.split(/[\s,]+/).filter(Boolean));

/** @returns the exit code; refusals (bad URL, unknown client) are thrown as `usage(message)`. */
export async function webhookCommand(
  storage: Storage, configuration: Configuration, clientId: string, flags: WebhookFlags, now: number, usage: (message: string) => Error,
): Promise<number> {
  const print = (json: unknown, text: string) => console.log(flags.json ? JSON.stringify(json, null, 2) : text);
  // The webhook secret is encrypted under the token key (webhooks/webhook-secret.ts), as the server derives it.
  const tokenKey = async () => configuration.tokenKey ?? Buffer.from(await storage.settings.getOrCreate('development_token_key', generateTokenKey), 'base64url');
  // README "The CLI": a refused change (an unknown client, a step the state does not allow) exits 2.
  const noWebhook = () => {
    print({ client_id: clientId, error: 'not_found' }, 'The client has no webhook.');
    return 2;
  };
  if (flags.remove || flags.show || flags.deliveries || flags.resend !== undefined) {
    if (!(await storage.clients.find(clientId))) throw usage(`no client ${clientId}`);
  }

  if (flags.url !== undefined) {
    const result = await setClientWebhook(storage, await tokenKey(), { environment: configuration.environment, allowPrivateAddresses: configuration.webhookAllowPrivateAddresses }, clientId, flags.url, 'admin:cli', now, eventTypes(flags.events));
    if (result.outcome === 'unknown_client') throw usage(`no client ${clientId}`);
    if (result.outcome === 'invalid_url') throw usage(`--url: ${result.problem}`);
    if (result.outcome === 'invalid_event_types') throw usage(`--events: ${result.problem}`);
    print({ client_id: clientId, url: result.url, event_types: result.eventTypes, secret: result.secret, created_at: result.createdAt },
      `Webhook: ${result.url}\nevents: ${result.eventTypes?.join(' ') ?? 'all'}\nsigning secret: ${result.secret}\n\nThe secret is shown only this once; verify deliveries with verifyWebhook() of @gatehouse/client.`);
    return 0;
  }
  if (flags.events !== undefined) {
    const result = await setClientWebhookEvents(storage, clientId, eventTypes(flags.events), 'admin:cli', now);
    if (result.outcome === 'unknown_client') throw usage(`no client ${clientId}`);
    if (result.outcome === 'invalid_event_types') throw usage(`--events: ${result.problem}`);
    if (result.outcome === 'no_webhook') return noWebhook();
    print({ client_id: clientId, event_types: result.eventTypes }, `events: ${result.eventTypes?.join(' ') ?? 'all'}`);
    return 0;
  }
  if (flags['rotate-secret']) {
    const result = await rotateClientWebhookSecret(storage, await tokenKey(), clientId, 'admin:cli', now);
    if (result.outcome === 'unknown_client') throw usage(`no client ${clientId}`);
    if (result.outcome === 'no_webhook') return noWebhook();
    print({ client_id: clientId, secret: result.secret }, `New signing secret: ${result.secret}\n\nShown only this once; the old secret no longer signs deliveries.`);
    return 0;
  }
  if (flags.remove) {
    const removed = await removeClientWebhook(storage, clientId, 'admin:cli', now);
    print({ client_id: clientId, removed }, removed ? 'Removed the webhook; queued deliveries are dropped.' : 'The client has no webhook.');
    return removed ? 0 : 2;
  }
  if (flags.show) {
    const endpoint = await storage.webhooks.findEndpoint(clientId);
    if (!endpoint) return noWebhook();
    print({ client_id: clientId, url: endpoint.url, event_types: endpoint.eventTypes ?? null, created_at: endpoint.createdAt },
      `Webhook: ${endpoint.url}\nevents: ${endpoint.eventTypes?.join(' ') ?? 'all'}\nset: ${new Date(endpoint.createdAt * 1000).toISOString()}`);
    return 0;
  }
  if (flags.deliveries) {
    const log = (await storage.webhooks.list(clientId, 100)).map(deliveryJson);
    const time = (seconds: number | null) => (seconds === null ? '-' : new Date(seconds * 1000).toISOString());
    print(log, log.length === 0 ? 'No deliveries.' : log.map((d) => [
      d.delivery_id, d.event_type.padEnd(18), d.delivered_at !== null ? 'delivered' : d.next_attempt_at === null ? 'given up ' : 'pending  ',
      `attempts ${d.attempts}`, `last status ${d.last_status ?? '-'}`, `next ${time(d.next_attempt_at)}`,
    ].join('  ')).join('\n'));
    return 0;
  }
  const resent = await resendWebhookDelivery(storage, clientId, flags.resend!, 'admin:cli', now);
  print({ client_id: clientId, delivery_id: flags.resend, resent }, resent ? `Queued ${flags.resend} again.` : 'The client has no such delivery.');
  return resent ? 0 : 2;
}

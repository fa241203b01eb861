import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { verifyWebhook, WebhookVerificationError } from './webhooks.ts';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const body = JSON.stringify({ type: 'grant.revoked', timestamp: '2026-12-03T11:00:00.000Z', data: { grant_id: 'g', client_id: 'c', subject_urn: 'urn:gatehouse:company:x', reason: 'user_disconnected' } });

function signed(payload: string, at = new Date(), id = 'msg_1') {
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, at, payload) };
}

describe('verifyWebhook (issue 15 §5, Standard Webhooks)', () => {
  it('returns the event of a correctly signed body, from a plain object or Headers', () => {
    const headers = signed(body);
    assert.deepEqual(verifyWebhook(body, headers, secret), JSON.parse(body));
    assert.deepEqual(verifyWebhook(Buffer.from(body), new Headers(headers), secret), JSON.parse(body));
  });

  it('refuses an altered body, another secret, a missing header and a stale timestamp (replay) with WebhookVerificationError', () => {
    const headers = signed(body);
    assert.throws(() => verifyWebhook(body.replace('user_disconnected', 'admin_revoked'), headers, secret), WebhookVerificationError);
    assert.throws(() => verifyWebhook(body, headers, `whsec_${randomBytes(32).toString('base64')}`), WebhookVerificationError);
    assert.throws(() => verifyWebhook(body, { ...headers, 'webhook-signature': undefined }, secret), /missing webhook-signature/);
    assert.throws(() => verifyWebhook(body, signed(body, new Date(Date.now() - 10 * 60_000)), secret), WebhookVerificationError);
  });
});

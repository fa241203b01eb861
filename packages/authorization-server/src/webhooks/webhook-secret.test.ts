/** Issue 15 §5: which webhook URLs a partner may register (webhookUrlProblem). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { webhookUrlProblem } from './webhook-secret.ts';

describe('webhookUrlProblem', () => {
  it('accepts https anywhere, and http on a loopback host (as @gatehouse/protocol names them) outside production', () => {
    assert.equal(webhookUrlProblem('https://hooks.example.com/gatehouse', 'production'), undefined);
    for (const url of ['http://localhost:8080/hooks', 'http://127.0.0.1/hooks', 'http://[::1]:9000/hooks']) {
      assert.equal(webhookUrlProblem(url, 'development'), undefined, url);
      assert.match(webhookUrlProblem(url, 'production')!, /must use https/, `${url} in production`);
    }
  });

  it('refuses http elsewhere, credentials, fragments, relative URLs and non-strings', () => {
    assert.match(webhookUrlProblem('http://hooks.example.com/', 'development')!, /must use https/);
    assert.match(webhookUrlProblem('http://127.0.0.2/', 'development')!, /must use https/);
    assert.match(webhookUrlProblem('https://user:pass@hooks.example.com/', 'development')!, /credentials/);
    assert.match(webhookUrlProblem('https://hooks.example.com/#x', 'development')!, /fragment/);
    assert.match(webhookUrlProblem('/hooks', 'development')!, /absolute URL/);
    assert.match(webhookUrlProblem(42, 'development')!, /string/);
  });
});

/**
 * Defect 10 of the partner-side review: every cookieless GET created an 8-hour session, and expired ones
 * went only when a new one was created: the map grew without bound. It now holds at most `maxSessions`,
 * dropping expired sessions, then the least recently used.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthorizationTransaction } from '@gatehouse/client';
import { createSessionStore } from './sessions.ts';

const transactionAt = (createdAt: number) => ({ state: `s${Math.random()}`, createdAt }) as unknown as AuthorizationTransaction;

describe('partner app sessions', () => {
  it('never holds more than maxSessions: the least recently used session is dropped first', () => {
    const sessions = createSessionStore(3600, 3);
    const ids = Array.from({ length: 3 }, () => sessions.create(1000).id);
    assert.ok(sessions.find(ids[0], 1001), 'the first is used again: now the most recent');
    for (let visit = 0; visit < 1000; visit++) sessions.create(1002);
    assert.equal(sessions.size, 3);
    assert.equal(sessions.find(ids[1], 1003), undefined);
    assert.equal(sessions.find(ids[2], 1003), undefined);
  });

  it('keeps a session in use while cookieless visits come and go', () => {
    const sessions = createSessionStore(3600, 3);
    const { id } = sessions.create(1000, { connectionId: 'c1' });
    for (let visit = 0; visit < 100; visit++) {
      sessions.create(1000 + visit);
      assert.equal(sessions.find(id, 1000 + visit)?.connectionId, 'c1');
    }
    assert.equal(sessions.size, 4, 'at most 3 anonymous sessions, beside the one in use');
  });

  it('drops expired sessions, found or swept, before live ones', () => {
    const sessions = createSessionStore(100, 3);
    const expiring = sessions.create(1000).id;
    const alsoExpiring = sessions.create(1000).id;
    const live = sessions.create(1050).id;
    assert.equal(sessions.find(expiring, 1100), undefined, 'expired');
    assert.equal(sessions.size, 2, 'an expired session found is dropped');
    sessions.create(1101);
    sessions.create(1101);
    assert.equal(sessions.size, 3);
    assert.equal(sessions.find(alsoExpiring, 1101), undefined);
    assert.ok(sessions.find(live, 1101), 'the live one stayed: the expired one was swept instead');
  });

  it('never evicts a session in the middle of connecting, nor a connected one, in favour of anonymous visits', () => {
    const sessions = createSessionStore(3600, 3);
    const connecting = sessions.create(1000);
    assert.equal(sessions.beginTransaction(connecting.session, transactionAt(1000), 1000), true);
    const connected = sessions.create(1000, { connectionId: 'c1' }).id;
    for (let visit = 0; visit < 1000; visit++) sessions.create(1001);
    assert.equal(sessions.find(connecting.id, 1002)?.transaction, connecting.session.transaction);
    assert.equal(sessions.find(connected, 1002)?.connectionId, 'c1');
    assert.ok(sessions.size <= 6, 'both kinds stay bounded');
  });

  it('connects started by anyone never evict a user mid-connect nor a connected one: past the bound, a new connect is refused', () => {
    const sessions = createSessionStore(3600, 3, 600);
    const user = sessions.create(1000);
    assert.ok(sessions.beginTransaction(user.session, transactionAt(1000), 1000));
    const connected = sessions.create(1000, { connectionId: 'c1' }).id;
    // The attack: GET / (an anonymous session), then POST /connect (a transaction), again and again.
    let refused = 0;
    for (let round = 0; round < 100; round++) {
      const attacker = sessions.create(1001);
      if (!sessions.beginTransaction(attacker.session, transactionAt(1001), 1001)) refused++;
    }
    assert.equal(refused, 99, 'one connect fitted; the rest were refused');
    assert.equal(sessions.inUse, 3);
    assert.equal(sessions.find(user.id, 1002)?.transaction?.createdAt, 1000, 'the user mid-connect kept the transaction');
    assert.equal(sessions.find(connected, 1002)?.connectionId, 'c1', 'the connected user stayed');
    assert.equal(sessions.takeTransaction(user.session)?.createdAt, 1000, 'the callback finds it');
    // A connected session may always start a reconnect: it is in use already.
    const connectedSession = sessions.find(connected, 1003)!;
    assert.ok(sessions.beginTransaction(connectedSession, transactionAt(1003), 1003));
  });

  it('drops only connects whose transaction expired to make room, keeping connected sessions (without that transaction)', () => {
    const sessions = createSessionStore(36_000, 2, 600);
    const stale = sessions.create(1000);
    assert.ok(sessions.beginTransaction(stale.session, transactionAt(1000), 1000));
    const connected = sessions.create(1000, { connectionId: 'c1' });
    assert.ok(sessions.beginTransaction(connected.session, transactionAt(1000), 1000), 'a reconnect');
    const fresh = sessions.create(1100);
    assert.equal(sessions.beginTransaction(fresh.session, transactionAt(1100), 1100), false, 'nothing expired yet');
    assert.ok(sessions.beginTransaction(fresh.session, transactionAt(1601), 1601), 'the stale connect expired: room');
    assert.equal(sessions.find(stale.id, 1601), undefined, 'the expired connect was dropped');
    const kept = sessions.find(connected.id, 1601);
    assert.equal(kept?.connectionId, 'c1', 'the connected session stayed');
    assert.equal(kept?.transaction, undefined, 'its expired reconnect is gone');
  });
});

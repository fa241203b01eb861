import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { linkInMail, startMailCatcher } from '../testing/mail-catcher.ts';
import { createMailer } from './mailer.ts';

const MESSAGE = { to: 'bob@example.com', subject: 'Set a new password', text: 'Open http://localhost:3000/account/set-password?token=' + 'x'.repeat(43) + '\n' };

describe('mailer (issue 10 §3)', () => {
  it('sends over SMTP from GATEHOUSE_MAIL_FROM when an SMTP URL is set', async () => {
    const catcher = await startMailCatcher();
    try {
      await createMailer({ smtpUrl: catcher.url, mailFrom: 'Platform <no-reply@platform.test>' }, 'production', () => assert.fail('no warning')).send(MESSAGE);
      const mail = await catcher.next();
      assert.deepEqual(mail.to, ['bob@example.com']);
      assert.match(mail.raw, /From: Platform <no-reply@platform\.test>/);
      assert.equal(linkInMail(mail), `http://localhost:3000/account/set-password?token=${'x'.repeat(43)}`);
    } finally {
      await catcher.close();
    }
  });

  it('prints the e-mail to the console in development without SMTP', async () => {
    const log = mock.method(console, 'log', () => {});
    try {
      await createMailer({}, 'development', () => assert.fail('no warning')).send(MESSAGE);
      assert.equal(log.mock.callCount(), 1);
      assert.match(String(log.mock.calls[0]!.arguments[0]), /To: bob@example\.com[\s\S]*token=x{43}/);
    } finally {
      log.mock.restore();
    }
  });

  it('sends nothing outside development without SMTP, and warns without the message body', async () => {
    const log = mock.method(console, 'log', () => {});
    const warnings: string[] = [];
    try {
      await createMailer({}, 'staging', (message) => warnings.push(message)).send(MESSAGE);
      assert.equal(log.mock.callCount(), 0);
      assert.equal(warnings.length, 1);
      assert.ok(!warnings[0]!.includes('token='));
    } finally {
      log.mock.restore();
    }
  });
});

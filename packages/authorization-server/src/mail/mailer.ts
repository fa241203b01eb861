/**
 * Sending e-mail (issue 10 §3: password-reset links) over SMTP with nodemailer.
 *
 * - With an SMTP URL (`GATEHOUSE_SMTP_URL`, e.g. `smtp://user:pass@mail.example:587`; `smtps://` for
 *   implicit TLS) every message goes there, from `GATEHOUSE_MAIL_FROM`.
 * - Without one in development, the message is printed to the console (stdout) so a developer can
 *   follow the link; that is the only place a link's token may ever be printed.
 * - Without one elsewhere, nothing is sent and a warning without the message's body is logged.
 *
 * Messages are never logged with their body (it holds a one-time link).
 */
import nodemailer from 'nodemailer';
import type { Environment } from '../options.ts';

export interface MailMessage {
  to: string;
  subject: string;
  /** Plain text body. */
  text: string;
}

export interface Mailer {
  /** @throws when the SMTP server refuses or cannot be reached. */
  send(message: MailMessage): Promise<void>;
}

export interface MailerSettings {
  /** `smtp://` or `smtps://` URL; undefined: the console in development, nothing elsewhere. */
  smtpUrl?: string | undefined;
  /** The From address; default `Gatehouse <no-reply@localhost>`. */
  mailFrom?: string | undefined;
}

export function createMailer(settings: MailerSettings, environment: Environment, warn: (message: string) => void): Mailer {
  const from = settings.mailFrom ?? 'Gatehouse <no-reply@localhost>';
  if (settings.smtpUrl) {
    // Bounded waits: a stuck mail server must not hold connections open for ever (sends run after the response).
    const transport = nodemailer.createTransport({ url: settings.smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 });
    return {
      async send(message) {
        await transport.sendMail({ from, to: message.to, subject: message.subject, text: message.text });
      },
    };
  }
  if (environment === 'development') {
    return {
      async send(message) {
        console.log(`\n--- e-mail (development: no GATEHOUSE_SMTP_URL) ---\nFrom: ${from}\nTo: ${message.to}\nSubject: ${message.subject}\n\n${message.text}\n--- end of e-mail ---\n`);
      },
    };
  }
  return {
    async send(message) {
      warn(`no GATEHOUSE_SMTP_URL: an e-mail ("${message.subject}") was not sent`);
    },
  };
}

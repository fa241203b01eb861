/**
 * Test support: a real SMTP server in-process (`smtp-server`) on an ephemeral loopback port that keeps
 * every message it receives, so tests see the e-mail Gatehouse sent over SMTP (issue 10 §3).
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface CaughtMail {
  to: string[];
  /** The raw message (headers and body) as received. */
  raw: string;
}

export interface MailCatcher {
  /** `smtp://127.0.0.1:<port>`, for `smtpUrl`. */
  url: string;
  messages: CaughtMail[];
  /** Resolves with the next message that arrives (or the first not yet awaited). */
  next(): Promise<CaughtMail>;
  close(): Promise<void>;
}

export async function startMailCatcher(): Promise<MailCatcher> {
  const messages: CaughtMail[] = [];
  const waiting: ((mail: CaughtMail) => void)[] = [];
  let handedOut = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const mail = { to: session.envelope.rcptTo.map((address) => address.address), raw: Buffer.concat(chunks).toString('utf8') };
        messages.push(mail);
        const waiter = waiting.shift();
        if (waiter) {
          handedOut += 1;
          waiter(mail);
        }
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    next() {
      if (handedOut < messages.length) return Promise.resolve(messages[handedOut++]!);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The set-password link in a message (quoted-printable soft line breaks and `=3D` undone). */
export function linkInMail(mail: CaughtMail): string {
  const body = mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const match = /https?:\/\/[^\s]+\/account\/set-password\?token=[A-Za-z0-9_-]{43}/.exec(body);
  if (!match) throw new Error('no set-password link in the message');
  return match[0];
}

/** A message's body as its reader sees it: its transfer encoding (quoted-printable or base64) undone, lines ending in `\n`. */
export function mailText(mail: CaughtMail): string {
  const split = mail.raw.search(/\r?\n\r?\n/);
  const headers = mail.raw.slice(0, split);
  const body = mail.raw.slice(split).trim();
  if (/content-transfer-encoding:\s*base64/i.test(headers)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8').replace(/\r\n/g, '\n');
  if (!/content-transfer-encoding:\s*quoted-printable/i.test(headers)) return body.replace(/\r\n/g, '\n');
  const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8').replace(/\r\n/g, '\n');
}

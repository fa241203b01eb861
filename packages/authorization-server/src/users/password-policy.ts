/**
 * The password rules of local accounts: NIST SP 800-63B §5.1.1.2 (memorized secrets). Length is counted
 * in Unicode code points after NFKC normalisation (§5.1.1.2: "each Unicode code point SHALL be counted
 * as a single character"; normalisation NFKC or NFKD); at least 12, at most 128. The password is
 * checked against a list of commonly used passwords (the ranked list of `@zxcvbn-ts/language-common`,
 * about 49,000 entries from breach corpora), compared case-insensitively, and may not be the account's
 * e-mail address. No composition rules (§5.1.1.2: "SHOULD NOT impose other composition rules").
 */
import { ENGLISH, type Translator } from '../i18n/i18n.ts';
import { dictionary } from '@zxcvbn-ts/language-common';

export const PASSWORD_MIN_CODE_POINTS = 12;
export const PASSWORD_MAX_CODE_POINTS = 128;

let commonPasswords: Set<string> | undefined;
/** Built on first use (the list is decompressed once per process). */
function isCommon(normalised: string): boolean {
  commonPasswords ??= new Set(dictionary['passwords-common'].map((entry) => entry.normalize('NFKC').toLowerCase()));
  return commonPasswords.has(normalised.toLowerCase());
}

/** The NFKC form a password is hashed and checked in (SP 800-63B §5.1.1.2). */
export const normalisePassword = (password: string) => password.normalize('NFKC');

/**
 * Why a new password is refused, in words for the form's field error; undefined when it is acceptable.
 * @param password as typed. @param email the account's e-mail address. @param t the form's language (issue 13; default English).
 */
export function passwordProblem(password: string, email: string, t: Translator = ENGLISH): string | undefined {
  const normalised = normalisePassword(password);
  const codePoints = [...normalised].length;
  // NIST SP 800-63B §5.1.1.2: at least 8 characters (we ask 12); at least 64 must be allowed (we allow 128).
  if (codePoints < PASSWORD_MIN_CODE_POINTS) return t.t('local.passwordTooShort', { min: PASSWORD_MIN_CODE_POINTS, count: codePoints });
  if (codePoints > PASSWORD_MAX_CODE_POINTS) return t.t('local.passwordTooLong', { max: PASSWORD_MAX_CODE_POINTS, count: codePoints });
  // NIST SP 800-63B §5.1.1.2: compare against values known to be commonly used or compromised.
  if (isCommon(normalised)) return t.t('local.passwordCommon');
  // NIST SP 800-63B §5.1.1.2: context-specific words, such as the user name.
  if (normalised.toLowerCase() === email.normalize('NFKC').toLowerCase()) return t.t('local.passwordIsEmail');
  return undefined;
}

/** A UUID in lowercase, hyphenated: the only form Gatehouse issues (client, user, subject and grant ids). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a lowercase, hyphenated UUID. Callers that accept any case lowercase first: `isUuid(value.toLowerCase())`. */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

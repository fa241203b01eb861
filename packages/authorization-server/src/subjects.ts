/**
 * Subject URNs (SPEC §2): `urn:<ns>:company:<uuid>` and `urn:<ns>:organization:<uuid>`.
 */
import type { SubjectType } from './storage/storage.ts';

/** A UUID in lowercase (identifiers of clients, users and subjects). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function subjectUrn(urnNamespace: string, subjectType: SubjectType, subjectId: string): string {
  return `urn:${urnNamespace}:${subjectType}:${subjectId}`;
}

export function parseSubjectUrn(urnNamespace: string, urn: string): { subjectType: SubjectType; subjectId: string } | undefined {
  const prefix = `urn:${urnNamespace}:`;
  if (!urn.startsWith(prefix)) return undefined;
  const [subjectType, subjectId, ...rest] = urn.slice(prefix.length).split(':');
  if (rest.length > 0 || (subjectType !== 'company' && subjectType !== 'organization') || !subjectId || !UUID.test(subjectId)) return undefined;
  return { subjectType, subjectId };
}

/** The authorize parameter naming a subject to pre-select (SPEC §2). */
export const subjectParameterName = (urnNamespace: string) => `urn_${urnNamespace}_params_oauth_subject`;
/** The token-response and introspection member carrying the subject URN (SPEC §2). */
export const subjectUrnMemberName = (urnNamespace: string) => `urn:${urnNamespace}:params:oauth:subject_urn`;

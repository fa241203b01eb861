/**
 * Subject URNs (SPEC §2): `urn:<ns>:company:<uuid>` and `urn:<ns>:organization:<uuid>`.
 * Every function takes the URN namespace first: `(urnNamespace, …)`.
 */
import { isUuid } from './uuid.ts';

/** SPEC §3 "Subjects": a company is one legal entity; an organization groups companies. */
export type SubjectType = 'company' | 'organization';

/** The URN namespace of a deployment that sets none (SPEC §2). */
export const DEFAULT_URN_NAMESPACE = 'gatehouse';

const URN_NAMESPACE = /^[a-z0-9][a-z0-9-]*$/;

/** True when `urnNamespace` is lowercase letters, digits and hyphens, starting with a letter or digit. */
export function isUrnNamespace(urnNamespace: string): boolean {
  return URN_NAMESPACE.test(urnNamespace);
}

/** Formats `urn:<ns>:<subjectType>:<uuid>` (SPEC §2). */
export function formatSubjectUrn(urnNamespace: string, subjectType: SubjectType, subjectId: string): string {
  return `urn:${urnNamespace}:${subjectType}:${subjectId}`;
}

/**
 * Decodes a subject URN of namespace `urnNamespace` (SPEC §2). Matching is exact (the authorization
 * server emits the canonical lowercase form), so a URN of another namespace, an unknown subject type,
 * an uppercase or malformed UUID, or trailing segments yield `undefined`.
 */
export function parseSubjectUrn(urnNamespace: string, urn: string): { subjectType: SubjectType; subjectId: string } | undefined {
  const prefix = `urn:${urnNamespace}:`;
  if (!urn.startsWith(prefix)) return undefined;
  const [subjectType, subjectId, ...rest] = urn.slice(prefix.length).split(':');
  if (rest.length > 0 || subjectId === undefined || !isUuid(subjectId)) return undefined;
  if (subjectType !== 'company' && subjectType !== 'organization') return undefined;
  return { subjectType, subjectId };
}

/** The authorize parameter naming a subject to pre-select (SPEC §2): `urn_<ns>_params_oauth_subject`. */
export function subjectParameterName(urnNamespace: string): string {
  return `urn_${urnNamespace}_params_oauth_subject`;
}

/** The token-response, introspection and JWT member carrying the subject URN (SPEC §2): `urn:<ns>:params:oauth:subject_urn`. */
export function subjectUrnMemberName(urnNamespace: string): string {
  return `urn:${urnNamespace}:params:oauth:subject_urn`;
}

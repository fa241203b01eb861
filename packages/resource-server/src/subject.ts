import { ResourceServerError } from './resource-server-error.ts';

import { isUrnNamespace, isUuid, type SubjectType } from '@gatehouse/protocol';

/** The protocol vocabulary (SPEC §2), from `@gatehouse/protocol`; re-exported for the toolkit's users. */
export {
  DEFAULT_URN_NAMESPACE,
  formatSubjectUrn,
  isUuid,
  parseSubjectUrn,
  subjectUrnMemberName,
  type SubjectType,
} from '@gatehouse/protocol';

/** A token's subject, decoded from its subject URN. */
export interface Subject {
  readonly subjectType: SubjectType;
  /** The company or organization UUID. */
  readonly subjectId: string;
  /** `urn:<ns>:<subjectType>:<uuid>` (SPEC §2). */
  readonly subjectUrn: string;
}

/**
 * @throws {TypeError} when `urnNamespace` is not lowercase letters, digits and hyphens.
 */
export function assertUrnNamespace(urnNamespace: string): void {
  if (!isUrnNamespace(urnNamespace)) {
    throw new TypeError(`urnNamespace ${JSON.stringify(urnNamespace)} must be lowercase letters, digits and hyphens`);
  }
}

/** Error codes of {@link SubjectAccessError}. */
export type SubjectAccessErrorCode =
  | 'company_id_required'
  | 'invalid_company_id'
  | 'company_access_denied'
  | 'organization_subject_required';

const STATUS_BY_CODE: Readonly<Record<SubjectAccessErrorCode, number>> = {
  company_id_required: 400,
  invalid_company_id: 400,
  company_access_denied: 403,
  organization_subject_required: 403,
};

/**
 * A refusal for company isolation (SPEC §3 "Subjects": organization tokens may discover
 * companies, never bypass company isolation). Not an RFC 6750 refusal: the token is fine,
 * so there is no `WWW-Authenticate` challenge and clients must not discard the token.
 *
 * - 400 `company_id_required`: an organization token called a company endpoint without `company_id`.
 * - 400 `invalid_company_id`: `company_id` is not a UUID.
 * - 403 `company_access_denied`: the company is not the token's company, or not in the token's
 *   organization (unknown companies get the same answer, so ids cannot be probed).
 * - 403 `organization_subject_required`: the endpoint acts for an organization; the token is a company's.
 */
export class SubjectAccessError extends ResourceServerError {
  declare readonly error: SubjectAccessErrorCode;

  constructor(error: SubjectAccessErrorCode, errorDescription: string) {
    super(STATUS_BY_CODE[error], error, errorDescription);
  }
}

/** What subject checks need of a token. */
export type TokenSubject = Pick<Subject, 'subjectType' | 'subjectId'>;

/**
 * Answers whether a company belongs to an organization; the resource server supplies it
 * from its own data. May be async.
 */
export type CompanyMembershipLookup = (companyId: string, organizationId: string) => boolean | Promise<boolean>;

/**
 * The one company a company-data request acts for (SPEC §3: company-data calls are scoped
 * to exactly one company).
 *
 * - company token: its own company; `requestedCompanyId` may be omitted or must equal it.
 * - organization token: `requestedCompanyId` is required and must be a company of the
 *   organization, as answered by `isCompanyInOrganization`.
 *
 * @param requestedCompanyId the request's explicit `company_id`, `undefined` when absent.
 * @returns the company UUID the request may act for.
 * @throws {SubjectAccessError} see the codes on the class.
 */
export async function resolveCompanyId(
  token: TokenSubject,
  requestedCompanyId: string | undefined,
  isCompanyInOrganization: CompanyMembershipLookup,
): Promise<string> {
  if (requestedCompanyId !== undefined && !isUuid(requestedCompanyId)) {
    throw new SubjectAccessError('invalid_company_id', 'company_id must be a lowercase UUID');
  }
  if (token.subjectType === 'company') {
    if (requestedCompanyId !== undefined && requestedCompanyId !== token.subjectId) {
      throw new SubjectAccessError('company_access_denied', 'This access token acts for another company');
    }
    return token.subjectId;
  }
  if (requestedCompanyId === undefined) {
    throw new SubjectAccessError(
      'company_id_required',
      'This access token acts for an organization; pass company_id of one of its companies',
    );
  }
  if (!(await isCompanyInOrganization(requestedCompanyId, token.subjectId))) {
    throw new SubjectAccessError('company_access_denied', "The company is not part of this access token's organization");
  }
  return requestedCompanyId;
}

/**
 * The organization UUID of an organization token.
 *
 * @throws {SubjectAccessError} 403 `organization_subject_required` for a company token.
 */
export function requireOrganizationSubject(token: TokenSubject): string {
  if (token.subjectType !== 'organization') {
    throw new SubjectAccessError('organization_subject_required', 'This endpoint needs an access token issued for an organization');
  }
  return token.subjectId;
}

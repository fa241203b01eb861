import { formatSubjectUrn } from '@gatehouse/resource-server';
import type { Company } from './seed-data.ts';

/** A company as the API returns it, with the subject URN a client would request for it. */
export function companyView(company: Company, urnNamespace: string): Company & { subjectURN: string } {
  return { ...company, subjectURN: formatSubjectUrn(urnNamespace, 'company', company.id) };
}

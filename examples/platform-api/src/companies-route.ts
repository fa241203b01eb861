import type { FastifyInstance } from 'fastify';
import { credentialSubject, getCredential, requireCredential } from '@gatehouse/resource-server';
import { companyView } from './company-view.ts';
import { paginate } from './pagination.ts';
import type { PageRequest } from './pagination.ts';
import type { RouteContext } from './route-context.ts';
import type { Company } from './seed-data.ts';
import { companySchema, pageQuerySchema, pageSchema } from './schemas.ts';

/**
 * `GET /v1/companies`: company discovery (SPEC §3 "Subjects"). An organization token sees
 * the companies of its organization; a company token sees only its own company.
 */
export function registerCompaniesRoute(app: FastifyInstance, context: RouteContext): void {
  app.get<{ Querystring: PageRequest }>(
    '/v1/companies',
    {
      preValidation: requireCredential(context.credentials, [], context.acceptedCredentials, context.verifier.realm),
      schema: { querystring: pageQuerySchema, response: { 200: pageSchema(companySchema) } },
      config: { openapi: { summary: 'List the companies this access token may act for', tags: ['companies'], scopes: [] } },
    },
    async (request) => {
      const token = credentialSubject(getCredential(request));
      let companies: Company[];
      if (token.subjectType === 'organization') {
        companies = context.store.listCompaniesOfOrganization(token.subjectId);
      } else {
        const company = context.store.getCompany(token.subjectId);
        companies = company === undefined ? [] : [company];
      }
      const page = paginate(companies, 'companies', (company) => company.id, request.query);
      return { ...page, data: page.data.map((company) => companyView(company, context.urnNamespace)) };
    },
  );
}

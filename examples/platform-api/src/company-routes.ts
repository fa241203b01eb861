import type { FastifyInstance, FastifyRequest } from 'fastify';
import { credentialSubject, getCredential, requireCredential, resolveCompanyId } from '@gatehouse/resource-server';
import type { DataStore, NewVendor } from './data-store.ts';
import { NotFoundError } from './error-handling.ts';
import { paginate } from './pagination.ts';
import type { PageRequest } from './pagination.ts';
import type { RouteContext } from './route-context.ts';
import {
  accountSchema,
  companyPageQuerySchema,
  companyQuerySchema,
  employeeSchema,
  exportItemSchema,
  exportJobSchema,
  itemEnvelopeSchema,
  newVendorSchema,
  pageSchema,
  vendorSchema,
} from './schemas.ts';

/** Query of company-data lists: a page, and the company for organization tokens. */
export interface CompanyPageQuery extends PageRequest {
  readonly company_id?: string;
}

/**
 * The one company this request acts for (SPEC §3: company-data calls are scoped to
 * exactly one company); throws `SubjectAccessError` otherwise.
 */
function companyOf(request: FastifyRequest<{ Querystring: { company_id?: string } }>, store: DataStore): Promise<string> {
  return resolveCompanyId(credentialSubject(getCredential(request)), request.query.company_id, store.isCompanyInOrganization);
}

interface CompanyListRoute<Item> {
  readonly url: string;
  readonly scope: string;
  readonly summary: string;
  readonly tag: string;
  readonly itemSchema: object;
  readonly items: (store: DataStore, companyId: string) => Item[];
  /** Unique sort key for keyset pagination. */
  readonly keyOf: (item: Item) => string;
}

function registerCompanyList<Item>(app: FastifyInstance, context: RouteContext, route: CompanyListRoute<Item>): void {
  app.get<{ Querystring: CompanyPageQuery }>(
    route.url,
    {
      preValidation: requireCredential(context.credentials, [route.scope], context.acceptedCredentials, context.verifier.realm),
      schema: { querystring: companyPageQuerySchema, response: { 200: pageSchema(route.itemSchema) } },
      config: { openapi: { summary: route.summary, tags: [route.tag], scopes: [route.scope] } },
    },
    async (request) => {
      const companyId = await companyOf(request, context.store);
      return paginate(route.items(context.store, companyId), route.url, route.keyOf, request.query);
    },
  );
}

/** The company-data endpoints: every one answers only for the token's company. */
export function registerCompanyRoutes(app: FastifyInstance, context: RouteContext): void {
  registerCompanyList(app, context, {
    url: '/v1/users',
    scope: 'users:read',
    summary: "List the company's employees",
    tag: 'users',
    itemSchema: employeeSchema,
    items: (store, companyId) => store.listEmployees(companyId),
    keyOf: (employee) => employee.id,
  });
  registerCompanyList(app, context, {
    url: '/v1/vendors',
    scope: 'vendors:read',
    summary: "List the company's vendors",
    tag: 'vendors',
    itemSchema: vendorSchema,
    items: (store, companyId) => store.listVendors(companyId),
    keyOf: (vendor) => vendor.id,
  });
  registerCompanyList(app, context, {
    url: '/v1/accounts',
    scope: 'accounts:read',
    summary: "List the company's chart of accounts, by account number",
    tag: 'accounts',
    itemSchema: accountSchema,
    items: (store, companyId) => store.listAccounts(companyId),
    keyOf: (account) => account.number,
  });
  registerCompanyList(app, context, {
    url: '/v1/export-jobs',
    scope: 'export-jobs:read',
    summary: "List the company's export jobs",
    tag: 'export-jobs',
    itemSchema: exportJobSchema,
    items: (store, companyId) => store.listExportJobs(companyId),
    keyOf: (job) => `${job.createdAt}|${job.id}`,
  });

  app.get<{ Params: { exportJobId: string }; Querystring: CompanyPageQuery }>(
    '/v1/export-jobs/:exportJobId/items',
    {
      preValidation: requireCredential(context.credentials, ['export-items:read'], context.acceptedCredentials, context.verifier.realm),
      schema: {
        params: { type: 'object', required: ['exportJobId'], properties: { exportJobId: { type: 'string' } } },
        querystring: companyPageQuerySchema,
        response: { 200: pageSchema(exportItemSchema) },
      },
      config: { openapi: { summary: 'List the items of an export job', tags: ['export-jobs'], scopes: ['export-items:read'] } },
    },
    async (request) => {
      const companyId = await companyOf(request, context.store);
      if (context.store.getExportJob(companyId, request.params.exportJobId) === undefined) {
        throw new NotFoundError('No such export job for this company');
      }
      const items = context.store.listExportItems(companyId, request.params.exportJobId);
      return paginate(items, `export-items:${request.params.exportJobId}`, (item) => item.id, request.query);
    },
  );

  app.post<{ Querystring: { company_id?: string }; Body: NewVendor }>(
    '/v1/vendors',
    {
      preValidation: requireCredential(context.credentials, ['vendors:write'], context.acceptedCredentials, context.verifier.realm),
      schema: { querystring: companyQuerySchema, body: newVendorSchema, response: { 201: itemEnvelopeSchema(vendorSchema) } },
      config: { openapi: { summary: 'Create a vendor', tags: ['vendors'], scopes: ['vendors:write'] } },
    },
    async (request, reply) => {
      const companyId = await companyOf(request, context.store);
      const vendor = context.store.createVendor(companyId, request.body);
      return reply.code(201).send({ data: vendor });
    },
  );
}

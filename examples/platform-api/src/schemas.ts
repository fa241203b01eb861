/**
 * JSON Schemas of the platform API. Fastify validates requests and serializes responses
 * with them, and /openapi.json is generated from them, so they are the one description
 * of the wire format.
 */

const uuid = { type: 'string', format: 'uuid' } as const;
const nullableString = { type: ['string', 'null'] } as const;

export const errorBodySchema = {
  type: 'object',
  required: ['error', 'error_description'],
  properties: {
    error: { type: 'string' },
    error_description: { type: 'string' },
    scope: { type: 'string', description: 'Space-separated scopes the resource requires (insufficient_scope only).' },
  },
} as const;

export const paginationSchema = {
  type: 'object',
  required: ['nextCursor'],
  properties: { nextCursor: { ...nullableString, description: 'Pass as `cursor` to get the next page; null on the last page.' } },
} as const;

const limitSchema = { type: 'integer', minimum: 1, maximum: 100, default: 25, description: 'Page size.' } as const;
const cursorSchema = { type: 'string', minLength: 1, maxLength: 512, description: '`pagination.nextCursor` of the previous page.' } as const;
const companyIdSchema = {
  type: 'string',
  description: 'The company to act for. Required with an organization-subject token; with a company-subject token it may only name that company.',
} as const;

export const pageQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: limitSchema, cursor: cursorSchema },
} as const;

export const companyPageQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: limitSchema, cursor: cursorSchema, company_id: companyIdSchema },
} as const;

export const companyQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { company_id: companyIdSchema },
} as const;

/** A page of `itemSchema` items: `{ data: [...], pagination: { nextCursor } }`. */
export function pageSchema(itemSchema: object): object {
  return {
    type: 'object',
    required: ['data', 'pagination'],
    properties: { data: { type: 'array', items: itemSchema }, pagination: paginationSchema },
  };
}

/** `{ data: item }`. */
export function itemEnvelopeSchema(itemSchema: object): object {
  return { type: 'object', required: ['data'], properties: { data: itemSchema } };
}

export const companySchema = {
  type: 'object',
  required: ['id', 'organizationId', 'name', 'countryCode', 'currency', 'registrationNumber', 'subjectURN'],
  properties: {
    id: uuid,
    organizationId: uuid,
    name: { type: 'string' },
    countryCode: { type: 'string', description: 'ISO 3166-1 alpha-2.' },
    currency: { type: 'string', description: 'ISO 4217.' },
    registrationNumber: { type: 'string' },
    subjectURN: { type: 'string', description: 'urn:<ns>:company:<uuid>, the subject to request at /oauth/authorize.' },
  },
} as const;

export const employeeSchema = {
  type: 'object',
  required: ['id', 'companyId', 'name', 'email', 'role'],
  properties: {
    id: uuid,
    companyId: uuid,
    name: { type: 'string' },
    email: { type: 'string', format: 'email' },
    role: { type: 'string', enum: ['owner', 'bookkeeper', 'member'] },
  },
} as const;

export const vendorSchema = {
  type: 'object',
  required: ['id', 'companyId', 'name', 'registrationNumber', 'countryCode', 'currency', 'email'],
  properties: {
    id: uuid,
    companyId: uuid,
    name: { type: 'string' },
    registrationNumber: nullableString,
    countryCode: { type: 'string' },
    currency: { type: 'string' },
    email: nullableString,
  },
} as const;

export const newVendorSchema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    registrationNumber: { type: 'string', minLength: 1, maxLength: 50 },
    countryCode: { type: 'string', pattern: '^[A-Z]{2}$' },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    email: { type: 'string', format: 'email', maxLength: 254 },
  },
} as const;

export const accountSchema = {
  type: 'object',
  required: ['id', 'companyId', 'number', 'name', 'type'],
  properties: {
    id: uuid,
    companyId: uuid,
    number: { type: 'string' },
    name: { type: 'string' },
    type: { type: 'string', enum: ['asset', 'liability', 'equity', 'revenue', 'expense'] },
  },
} as const;

export const exportJobSchema = {
  type: 'object',
  required: ['id', 'companyId', 'status', 'createdAt', 'completedAt', 'itemCount'],
  properties: {
    id: uuid,
    companyId: uuid,
    status: { type: 'string', enum: ['pending', 'running', 'completed', 'failed'] },
    createdAt: { type: 'string', format: 'date-time' },
    completedAt: { type: ['string', 'null'], format: 'date-time' },
    itemCount: { type: 'integer' },
  },
} as const;

export const exportItemSchema = {
  type: 'object',
  required: ['id', 'exportJobId', 'companyId', 'date', 'description', 'amount', 'currency', 'accountNumber', 'vendorId'],
  properties: {
    id: uuid,
    exportJobId: uuid,
    companyId: uuid,
    date: { type: 'string', format: 'date' },
    description: { type: 'string' },
    amount: { type: 'string', description: 'Decimal amount in `currency`.' },
    currency: { type: 'string' },
    accountNumber: { type: 'string' },
    vendorId: { type: ['string', 'null'], format: 'uuid' },
  },
} as const;

export const introspectionSchema = {
  type: 'object',
  required: ['data'],
  properties: {
    data: {
      type: 'object',
      required: ['authMethod', 'clientId', 'scope', 'applicationName', 'subjectURN'],
      properties: {
        authMethod: { type: 'string', enum: ['OAUTH2', 'API_KEY'] },
        // Issue 16: null for a standalone API key (it belongs to no client).
        clientId: { type: ['string', 'null'], format: 'uuid' },
        scope: { type: 'string', description: 'Granted scopes, space-separated.' },
        applicationName: nullableString,
        subjectURN: { type: 'string' },
      },
    },
  },
} as const;

export const healthSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string', enum: ['ok'] } },
} as const;

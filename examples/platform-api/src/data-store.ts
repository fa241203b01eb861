import { randomUUID } from 'node:crypto';
import { SEED_DATA } from './seed-data.ts';
import type { Account, Company, Employee, ExportItem, ExportJob, Organization, SeedData, Vendor } from './seed-data.ts';

/** Fields a client supplies to create a vendor (`POST /v1/vendors`). */
export interface NewVendor {
  readonly name: string;
  readonly registrationNumber?: string | undefined;
  readonly countryCode?: string | undefined;
  readonly currency?: string | undefined;
  readonly email?: string | undefined;
}

/**
 * The platform API's in-memory data. Every read takes the company it acts for, so a
 * handler cannot reach another company's rows by forgetting a filter.
 */
export interface DataStore {
  getOrganization(organizationId: string): Organization | undefined;
  getCompany(companyId: string): Company | undefined;
  listCompaniesOfOrganization(organizationId: string): Company[];
  /** Membership lookup for company isolation (SPEC §3 "Subjects"). */
  isCompanyInOrganization(companyId: string, organizationId: string): boolean;
  listEmployees(companyId: string): Employee[];
  listVendors(companyId: string): Vendor[];
  listAccounts(companyId: string): Account[];
  listExportJobs(companyId: string): ExportJob[];
  getExportJob(companyId: string, exportJobId: string): ExportJob | undefined;
  listExportItems(companyId: string, exportJobId: string): ExportItem[];
  createVendor(companyId: string, vendor: NewVendor): Vendor;
}

/** A data store over a private copy of `seed` (default the dev seed), so instances never share writes. */
export function createDataStore(seed: SeedData = SEED_DATA): DataStore {
  const companies = [...seed.companies];
  const vendors = [...seed.vendors];
  // Employees never change: grouped by company once, so that a request finds its company's with one lookup
  // instead of comparing the token's company id (a slice of its subject URN) with every employee's (issue 12).
  const employeesByCompany = Map.groupBy(seed.employees, (employee) => employee.companyId);

  return {
    getOrganization: (organizationId) => seed.organizations.find((organization) => organization.id === organizationId),
    getCompany: (companyId) => companies.find((company) => company.id === companyId),
    listCompaniesOfOrganization: (organizationId) => companies.filter((company) => company.organizationId === organizationId),
    isCompanyInOrganization: (companyId, organizationId) =>
      companies.some((company) => company.id === companyId && company.organizationId === organizationId),
    listEmployees: (companyId) => [...(employeesByCompany.get(companyId) ?? [])],
    listVendors: (companyId) => vendors.filter((vendor) => vendor.companyId === companyId),
    listAccounts: (companyId) => seed.accounts.filter((account) => account.companyId === companyId),
    listExportJobs: (companyId) => seed.exportJobs.filter((job) => job.companyId === companyId),
    getExportJob: (companyId, exportJobId) => seed.exportJobs.find((job) => job.companyId === companyId && job.id === exportJobId),
    listExportItems: (companyId, exportJobId) =>
      seed.exportItems.filter((item) => item.companyId === companyId && item.exportJobId === exportJobId),
    createVendor(companyId, vendor) {
      const company = companies.find((candidate) => candidate.id === companyId);
      if (company === undefined) {
        throw new Error(`Unknown company ${companyId}`);
      }
      const created: Vendor = {
        id: randomUUID(),
        companyId,
        name: vendor.name,
        registrationNumber: vendor.registrationNumber ?? null,
        countryCode: vendor.countryCode ?? company.countryCode,
        currency: vendor.currency ?? company.currency,
        email: vendor.email ?? null,
      };
      vendors.push(created);
      return created;
    },
  };
}

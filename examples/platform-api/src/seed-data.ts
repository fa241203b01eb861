import { createHash } from 'node:crypto';

/**
 * A small deterministic dataset for the companies of docs/dev-seed.md: the same ids on
 * every start, so a token obtained from the development authorization server meets
 * matching data here.
 */

export interface Organization {
  readonly id: string;
  readonly name: string;
}

export interface Company {
  readonly id: string;
  readonly organizationId: string;
  readonly name: string;
  /** ISO 3166-1 alpha-2. */
  readonly countryCode: string;
  /** ISO 4217. */
  readonly currency: string;
  readonly registrationNumber: string;
}

export type EmployeeRole = 'owner' | 'bookkeeper' | 'member';

/** A user's membership of one company. */
export interface Employee {
  /** The user's id; the same user has the same id in every company. */
  readonly id: string;
  readonly companyId: string;
  readonly name: string;
  readonly email: string;
  readonly role: EmployeeRole;
}

export interface Vendor {
  readonly id: string;
  readonly companyId: string;
  readonly name: string;
  readonly registrationNumber: string | null;
  readonly countryCode: string;
  readonly currency: string;
  readonly email: string | null;
}

export type AccountType = 'asset' | 'liability' | 'equity' | 'revenue' | 'expense';

export interface Account {
  readonly id: string;
  readonly companyId: string;
  /** Ledger account number, unique within the company's chart of accounts. */
  readonly number: string;
  readonly name: string;
  readonly type: AccountType;
}

export type ExportJobStatus = 'pending' | 'running' | 'completed' | 'failed';

export interface ExportJob {
  readonly id: string;
  readonly companyId: string;
  readonly status: ExportJobStatus;
  /** ISO 8601 timestamps. */
  readonly createdAt: string;
  readonly completedAt: string | null;
  readonly itemCount: number;
}

/** One expense carried by an export job. */
export interface ExportItem {
  readonly id: string;
  readonly exportJobId: string;
  readonly companyId: string;
  /** ISO 8601 date of the expense. */
  readonly date: string;
  readonly description: string;
  /** Decimal string in `currency`, e.g. `"1249.50"`. */
  readonly amount: string;
  readonly currency: string;
  readonly accountNumber: string;
  readonly vendorId: string | null;
}

export interface SeedData {
  readonly organizations: readonly Organization[];
  readonly companies: readonly Company[];
  readonly employees: readonly Employee[];
  readonly vendors: readonly Vendor[];
  readonly accounts: readonly Account[];
  readonly exportJobs: readonly ExportJob[];
  readonly exportItems: readonly ExportItem[];
}

/** Fixed identifiers from docs/dev-seed.md. */
export const SEED_IDS = {
  nordlysGroup: 'a78f8460-ea41-4745-905b-660d706ebca4',
  nordlysDanmark: 'd4290d20-6495-471e-bcac-5d9e0a4d844e',
  nordlysSverige: '5f2524c1-992b-444a-88d7-caff1c1c01f7',
  alice: 'a3e3fc33-5e1b-4cac-81ad-b7accdcd5313',
  bob: '81c9107e-5efd-4208-b90d-dfc783b77b97',
} as const;

/** A stable UUID (version 5 layout) derived from a name, so generated rows keep their ids. */
export function seedUuid(name: string): string {
  const bytes = createHash('sha1').update(`gatehouse-platform-api:${name}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const organizations: Organization[] = [{ id: SEED_IDS.nordlysGroup, name: 'Nordlys Group' }];

const companies: Company[] = [
  {
    id: SEED_IDS.nordlysDanmark,
    organizationId: SEED_IDS.nordlysGroup,
    name: 'Nordlys Danmark ApS',
    countryCode: 'DK',
    currency: 'DKK',
    registrationNumber: 'DK41837265',
  },
  {
    id: SEED_IDS.nordlysSverige,
    organizationId: SEED_IDS.nordlysGroup,
    name: 'Nordlys Sverige AB',
    countryCode: 'SE',
    currency: 'SEK',
    registrationNumber: '559214-7730',
  },
];

type EmployeeSeed = readonly [name: string, email: string, role: EmployeeRole, id?: string];

const employeeSeeds: Readonly<Record<string, readonly EmployeeSeed[]>> = {
  [SEED_IDS.nordlysDanmark]: [
    ['Alice Admin', 'alice@example.com', 'owner', SEED_IDS.alice],
    ['Bob Bookkeeper', 'bob@example.com', 'bookkeeper', SEED_IDS.bob],
    ['Freja Nielsen', 'freja.nielsen@nordlys.example', 'member'],
    ['Mads Jensen', 'mads.jensen@nordlys.example', 'member'],
    ['Sofie Larsen', 'sofie.larsen@nordlys.example', 'member'],
    ['Emil Christensen', 'emil.christensen@nordlys.example', 'member'],
  ],
  [SEED_IDS.nordlysSverige]: [
    ['Alice Admin', 'alice@example.com', 'owner', SEED_IDS.alice],
    ['Erik Lindqvist', 'erik.lindqvist@nordlys.example', 'bookkeeper'],
    ['Astrid Johansson', 'astrid.johansson@nordlys.example', 'member'],
    ['Oskar Nilsson', 'oskar.nilsson@nordlys.example', 'member'],
    ['Maja Eriksson', 'maja.eriksson@nordlys.example', 'member'],
  ],
};

const employees: Employee[] = Object.entries(employeeSeeds).flatMap(([companyId, seeds]) =>
  seeds.map(([name, email, role, id]) => ({ id: id ?? seedUuid(`user:${email}`), companyId, name, email, role })),
);

type VendorSeed = readonly [name: string, registrationNumber: string | null, countryCode: string, currency: string, email: string | null];

const vendorSeeds: Readonly<Record<string, readonly VendorSeed[]>> = {
  [SEED_IDS.nordlysDanmark]: [
    ['Dansk Kontorforsyning A/S', 'DK29384756', 'DK', 'DKK', 'faktura@kontorforsyning.example'],
    ['Københavns Kaffebrænderi ApS', 'DK38475610', 'DK', 'DKK', 'ordre@kaffebraenderi.example'],
    ['Nordisk Fragt A/S', 'DK17263548', 'DK', 'DKK', null],
    ['Aarhus IT-Service ApS', 'DK40918273', 'DK', 'DKK', 'support@aarhus-it.example'],
    ['DSB Erhverv', null, 'DK', 'DKK', null],
    ['Figma, Inc.', null, 'US', 'USD', 'billing@figma.example'],
  ],
  [SEED_IDS.nordlysSverige]: [
    ['Kontorsvaruhuset AB', '556677-8899', 'SE', 'SEK', 'faktura@kontorsvaruhuset.example'],
    ['Stockholms Kafferosteri AB', '559001-2233', 'SE', 'SEK', null],
    ['SJ AB', '556196-1599', 'SE', 'SEK', null],
    ['Göteborgs Revision AB', '556812-3456', 'SE', 'SEK', 'info@gbg-revision.example'],
    ['Atlassian Pty Ltd', null, 'AU', 'USD', 'billing@atlassian.example'],
  ],
};

const vendors: Vendor[] = Object.entries(vendorSeeds).flatMap(([companyId, seeds]) =>
  seeds.map(([name, registrationNumber, countryCode, currency, email]) => ({
    id: seedUuid(`vendor:${companyId}:${name}`),
    companyId,
    name,
    registrationNumber,
    countryCode,
    currency,
    email,
  })),
);

type AccountSeed = readonly [number: string, name: string, type: AccountType];

const accountSeeds: Readonly<Record<string, readonly AccountSeed[]>> = {
  [SEED_IDS.nordlysDanmark]: [
    ['1010', 'Salg af varer', 'revenue'],
    ['1020', 'Salg af ydelser', 'revenue'],
    ['2010', 'Vareforbrug', 'expense'],
    ['2750', 'Rejseudgifter', 'expense'],
    ['2800', 'Repræsentation', 'expense'],
    ['3600', 'Kontorartikler', 'expense'],
    ['3620', 'Software og abonnementer', 'expense'],
    ['3700', 'Telefon og internet', 'expense'],
    ['4000', 'Husleje', 'expense'],
    ['5600', 'Bankkonto', 'asset'],
    ['5800', 'Debitorer', 'asset'],
    ['6800', 'Kreditorer', 'liability'],
    ['6900', 'Skyldig moms', 'liability'],
    ['7000', 'Selskabskapital', 'equity'],
  ],
  [SEED_IDS.nordlysSverige]: [
    ['1510', 'Kundfordringar', 'asset'],
    ['1930', 'Företagskonto', 'asset'],
    ['2081', 'Aktiekapital', 'equity'],
    ['2440', 'Leverantörsskulder', 'liability'],
    ['2611', 'Utgående moms 25 %', 'liability'],
    ['3001', 'Försäljning varor', 'revenue'],
    ['3041', 'Försäljning tjänster', 'revenue'],
    ['4010', 'Inköp material och varor', 'expense'],
    ['5010', 'Lokalhyra', 'expense'],
    ['5410', 'Förbrukningsinventarier', 'expense'],
    ['5800', 'Resekostnader', 'expense'],
    ['6071', 'Representation', 'expense'],
    ['6212', 'Mobiltelefon', 'expense'],
    ['6540', 'IT-tjänster', 'expense'],
  ],
};

const accounts: Account[] = Object.entries(accountSeeds).flatMap(([companyId, seeds]) =>
  seeds.map(([number, name, type]) => ({ id: seedUuid(`account:${companyId}:${number}`), companyId, number, name, type })),
);

type ExportItemSeed = readonly [date: string, description: string, amount: string, accountNumber: string, vendorName: string | null];
type ExportJobSeed = readonly [key: string, status: ExportJobStatus, createdAt: string, completedAt: string | null, items: readonly ExportItemSeed[]];

const exportJobSeeds: Readonly<Record<string, readonly ExportJobSeed[]>> = {
  [SEED_IDS.nordlysDanmark]: [
    ['2026-01', 'completed', '2026-02-01T06:00:00.000Z', '2026-02-01T06:00:42.000Z', [
      ['2026-01-06', 'Printerpapir og toner', '1249.50', '3600', 'Dansk Kontorforsyning A/S'],
      ['2026-01-09', 'Kaffe til kontoret', '687.00', '2800', 'Københavns Kaffebrænderi ApS'],
      ['2026-01-14', 'Togbilletter København–Aarhus', '1118.00', '2750', 'DSB Erhverv'],
      ['2026-01-20', 'Figma Professional, januar', '1024.35', '3620', 'Figma, Inc.'],
    ]],
    ['2026-02', 'completed', '2026-03-01T06:00:00.000Z', '2026-03-01T06:01:05.000Z', [
      ['2026-02-03', 'Fragt af varer til Odense', '2375.00', '2010', 'Nordisk Fragt A/S'],
      ['2026-02-11', 'Support på netværk', '4200.00', '3700', 'Aarhus IT-Service ApS'],
      ['2026-02-19', 'Figma Professional, februar', '1031.80', '3620', 'Figma, Inc.'],
    ]],
    ['2026-03', 'failed', '2026-04-01T06:00:00.000Z', '2026-04-01T06:00:03.000Z', []],
    ['2026-03-retry', 'running', '2026-04-01T08:15:00.000Z', null, [
      ['2026-03-05', 'Kontorstole (2 stk.)', '5990.00', '3600', 'Dansk Kontorforsyning A/S'],
    ]],
  ],
  [SEED_IDS.nordlysSverige]: [
    ['2026-01', 'completed', '2026-02-01T06:00:00.000Z', '2026-02-01T06:00:37.000Z', [
      ['2026-01-08', 'Kontorsmaterial', '1890.00', '5410', 'Kontorsvaruhuset AB'],
      ['2026-01-15', 'Tågresa Stockholm–Göteborg', '1245.00', '5800', 'SJ AB'],
      ['2026-01-22', 'Kundlunch', '2140.00', '6071', null],
    ]],
    ['2026-02', 'pending', '2026-03-01T06:00:00.000Z', null, [
      ['2026-02-02', 'Jira och Confluence, februari', '3350.00', '6540', 'Atlassian Pty Ltd'],
      ['2026-02-17', 'Revision av årsbokslut', '18750.00', '6540', 'Göteborgs Revision AB'],
    ]],
  ],
};

const exportJobs: ExportJob[] = [];
const exportItems: ExportItem[] = [];
for (const [companyId, jobSeeds] of Object.entries(exportJobSeeds)) {
  const company = companies.find((candidate) => candidate.id === companyId);
  for (const [key, status, createdAt, completedAt, itemSeeds] of jobSeeds) {
    const exportJobId = seedUuid(`export-job:${companyId}:${key}`);
    exportJobs.push({ id: exportJobId, companyId, status, createdAt, completedAt, itemCount: itemSeeds.length });
    itemSeeds.forEach(([date, description, amount, accountNumber, vendorName], index) => {
      const vendor = vendors.find((candidate) => candidate.companyId === companyId && candidate.name === vendorName);
      exportItems.push({
        id: seedUuid(`export-item:${exportJobId}:${index}`),
        exportJobId,
        companyId,
        date,
        description,
        amount,
        // Booked in the company's currency, whatever the vendor invoices in.
        currency: company?.currency ?? 'EUR',
        accountNumber,
        vendorId: vendor?.id ?? null,
      });
    });
  }
}

/** The seeded dataset. Frozen copies are handed to each data store. */
export const SEED_DATA: SeedData = { organizations, companies, employees, vendors, accounts, exportJobs, exportItems };

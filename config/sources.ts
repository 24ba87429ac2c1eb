/**
 * Source contracts: the file for each source and the columns it must carry. A row that breaks the contract
 * is quarantined with a reason; a file that cannot be read as its source fails the run.
 */
export type ColumnType = 'text' | 'int' | 'decimal' | 'date' | 'timestamp' | 'bool';

export interface ColumnContract {
  name: string;
  type: ColumnType;
  required: boolean;
  /** Allowed values (text columns). */
  values?: readonly string[];
  min?: number;
  /** Personal data: masked in quarantine and never logged. */
  pii?: boolean;
  /** Invalid value becomes NULL instead of quarantining the row (soft attributes). */
  nullOnInvalid?: boolean;
}

export interface SourceContract {
  name: SourceName;
  file: string;
  primaryKey: readonly string[];
  columns: readonly ColumnContract[];
  /** A day without rows is normal for this source (the empty-source gate does not apply). */
  allowEmpty?: boolean;
}

export const SOURCE_NAMES = ['customers', 'accounts', 'balances', 'loans', 'transactions', 'app_events', 'consent', 'campaign_contacts', 'complaints'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

const CHANNELS = ['sms', 'app_push', 'wechat', 'call', 'email'] as const;
const PRODUCTS = ['consumer_loan', 'mortgage', 'credit_card', 'business_loan'] as const;

const text = (name: string, extra: Partial<ColumnContract> = {}): ColumnContract => ({ name, type: 'text', required: true, ...extra });

export const SOURCES: Readonly<Record<SourceName, SourceContract>> = {
  customers: {
    name: 'customers',
    file: 'customers.csv',
    primaryKey: ['source_system', 'customer_key'],
    columns: [
      text('source_system', { values: ['core', 'card'] }),
      text('customer_key'),
      text('name', { pii: true, required: false }),
      text('id_number', { pii: true, required: false }),
      text('phone', { pii: true, required: false }),
      // Raw KYC text: formats vary by system, the clean stage normalises them.
      text('birth_date', { required: false }),
      text('gender', { required: false }),
      text('city', { required: false }),
      text('occupation', { required: false }),
      { name: 'annual_income', type: 'decimal', required: false, min: 0, nullOnInvalid: true },
      { name: 'opened_at', type: 'date', required: false, nullOnInvalid: true },
    ],
  },
  accounts: {
    name: 'accounts',
    file: 'accounts.csv',
    primaryKey: ['account_id'],
    columns: [
      text('account_id'),
      text('customer_key'),
      text('product', { values: ['demand', 'time'] }),
      { name: 'opened_at', type: 'date', required: false, nullOnInvalid: true },
      { name: 'maturity_date', type: 'date', required: false },
    ],
  },
  balances: {
    name: 'balances',
    file: 'balances.csv',
    primaryKey: ['account_id', 'balance_date'],
    columns: [text('account_id'), { name: 'balance_date', type: 'date', required: true }, { name: 'balance', type: 'decimal', required: true }],
  },
  loans: {
    name: 'loans',
    file: 'loans.csv',
    primaryKey: ['loan_id'],
    columns: [
      text('loan_id'),
      text('customer_key'),
      text('product', { values: PRODUCTS }),
      { name: 'principal', type: 'decimal', required: true, min: 0 },
      { name: 'outstanding', type: 'decimal', required: true, min: 0 },
      { name: 'overdue_days', type: 'int', required: true, min: 0 },
      { name: 'opened_at', type: 'date', required: true },
    ],
  },
  transactions: {
    name: 'transactions',
    file: 'transactions.csv',
    primaryKey: ['txn_id'],
    columns: [
      text('txn_id'),
      text('account_id'),
      text('customer_key'),
      { name: 'txn_ts', type: 'timestamp', required: true },
      { name: 'amount', type: 'decimal', required: true, min: 0 },
      text('direction', { values: ['credit', 'debit'] }),
      text('channel', { values: ['counter', 'atm', 'mobile', 'online', 'pos'] }),
      text('category', { values: ['salary', 'transfer', 'shopping', 'dining', 'utilities', 'loan_repayment', 'investment', 'other'] }),
    ],
  },
  app_events: {
    name: 'app_events',
    file: 'app_events.csv',
    primaryKey: ['event_id'],
    columns: [
      text('event_id'),
      text('customer_key'),
      { name: 'event_ts', type: 'timestamp', required: true },
      text('event_type', { values: ['login', 'loan_product_view', 'loan_calculator', 'loan_application_start'] }),
    ],
  },
  consent: {
    name: 'consent',
    file: 'consent.csv',
    primaryKey: ['consent_id'],
    columns: [
      text('consent_id'),
      text('customer_key'),
      text('channel', { values: CHANNELS }),
      { name: 'granted', type: 'bool', required: true },
      { name: 'recorded_at', type: 'timestamp', required: true },
    ],
  },
  campaign_contacts: {
    name: 'campaign_contacts',
    file: 'campaign_contacts.csv',
    primaryKey: ['contact_id'],
    columns: [
      text('contact_id'),
      text('customer_key'),
      text('campaign_id'),
      text('product', { values: PRODUCTS }),
      text('channel', { values: CHANNELS }),
      { name: 'contacted_at', type: 'timestamp', required: true },
      { name: 'converted', type: 'bool', required: true },
      { name: 'converted_at', type: 'timestamp', required: false },
      { name: 'value', type: 'decimal', required: false, min: 0 },
    ],
  },
  complaints: {
    name: 'complaints',
    file: 'complaints.csv',
    primaryKey: ['complaint_id'],
    allowEmpty: true,
    columns: [
      text('complaint_id'),
      text('customer_key'),
      { name: 'complaint_ts', type: 'timestamp', required: true },
      text('category', { values: ['service', 'fees', 'marketing', 'app', 'other'] }),
      text('status', { values: ['open', 'closed'] }),
    ],
  },
};

/** The tag catalogue (标签体系): every column of mart.tags with its business meaning. Version bumps on any change. */
export const TAG_CATALOGUE_VERSION = '2026.11.1';

export type TagCategory = 'basic' | 'asset' | 'behaviour' | 'risk' | 'value' | 'lifecycle' | 'intent';
export type TagType = 'boolean' | 'enum' | 'number' | 'band';

export interface TagDefinition {
  id: string;
  nameZh: string;
  nameEn: string;
  category: TagCategory;
  type: TagType;
  definition: string;
}

const t = (id: string, nameZh: string, nameEn: string, category: TagCategory, type: TagType, definition: string): TagDefinition => ({ id, nameZh, nameEn, category, type, definition });

export const TAGS: readonly TagDefinition[] = [
  t('age', '年龄', 'Age', 'basic', 'number', 'Whole years between birth date and the as-of date'),
  t('age_band', '年龄段', 'Age band', 'basic', 'band', '<25, 25-34, 35-44, 45-54, 55-64, 65+'),
  t('gender', '性别', 'Gender', 'basic', 'enum', 'M / F from KYC, else from the ID number'),
  t('city_tier', '城市等级', 'City tier', 'basic', 'number', '1 = first-tier city … 3 = other'),
  t('occupation', '职业', 'Occupation', 'basic', 'enum', 'Occupation from KYC'),
  t('tenure_years', '客户年限', 'Tenure (years)', 'basic', 'number', 'Years since the earliest account opening'),
  t('annual_income', '年收入', 'Annual income', 'basic', 'number', 'Declared annual income (CNY)'),
  t('total_deposits', '存款总额', 'Total deposits', 'asset', 'number', 'Sum of the latest balance on or before the as-of date over all deposit accounts (CNY)'),
  t('deposit_trend_90d', '90天存款趋势', 'Deposit trend 90d', 'asset', 'number', 'Total deposits now / total deposits 90 days earlier'),
  t('has_time_deposit', '持有定期', 'Holds time deposit', 'asset', 'boolean', 'Holds at least one time-deposit account'),
  t('time_deposit_maturing_30d', '定期30天内到期', 'Time deposit maturing in 30d', 'asset', 'boolean', 'A time deposit matures within 30 days after the as-of date'),
  t('loan_outstanding', '贷款余额', 'Loan outstanding', 'asset', 'number', 'Outstanding principal over all loans and cards (CNY)'),
  t('has_consumer_loan', '持有消费贷', 'Has consumer loan', 'asset', 'boolean', 'A consumer loan with outstanding balance'),
  t('has_credit_card', '持有信用卡', 'Has credit card', 'asset', 'boolean', 'Holds a credit card'),
  t('has_mortgage', '持有房贷', 'Has mortgage', 'asset', 'boolean', 'Holds a mortgage'),
  t('products_held', '持有产品数', 'Products held', 'value', 'number', 'Distinct deposit and credit products held'),
  t('max_overdue_days', '最长逾期天数', 'Max overdue days', 'risk', 'number', 'Largest current overdue days over all loans'),
  t('txn_count_30d', '30天交易笔数', 'Transactions 30d', 'behaviour', 'number', 'Transactions in the 30 days up to the as-of date'),
  t('txn_amount_30d', '30天交易金额', 'Transaction amount 30d', 'behaviour', 'number', 'Sum of transaction amounts in the 30 days up to the as-of date (CNY)'),
  t('txn_count_90d', '90天交易笔数', 'Transactions 90d', 'behaviour', 'number', 'Transactions in the 90 days up to the as-of date'),
  t('salary_credit', '代发工资', 'Salary credit', 'behaviour', 'boolean', 'A salary credit in the 35 days up to the as-of date'),
  t('days_since_last_txn', '距最近交易天数', 'Days since last transaction', 'value', 'number', 'RFM recency: days from the last transaction to the as-of date'),
  t('app_logins_30d', '30天APP登录', 'App logins 30d', 'behaviour', 'number', 'App logins in the 30 days up to the as-of date'),
  t('loan_views_7d', '7天贷款产品浏览', 'Loan product views 7d', 'intent', 'number', 'Loan product page views in the 7 days up to the as-of date'),
  t('loan_views_30d', '30天贷款产品浏览', 'Loan product views 30d', 'intent', 'number', 'Loan product page views in the 30 days up to the as-of date'),
  t('calculator_uses_30d', '30天贷款计算器使用', 'Loan calculator uses 30d', 'intent', 'number', 'Loan calculator uses in the 30 days up to the as-of date'),
  t('application_starts_30d', '30天贷款申请发起', 'Application starts 30d', 'intent', 'number', 'Loan applications started in the 30 days up to the as-of date'),
  t('lifecycle', '生命周期', 'Lifecycle', 'lifecycle', 'enum', 'new (<90 days) / silent (no transaction in 90 days) / churn_risk (deposits down >50% in 90 days) / growing (up >20%) / mature'),
];

export const TAG_IDS: ReadonlySet<string> = new Set(TAGS.map((tag) => tag.id));

/** Numeric and boolean tags usable as model features (in this order). */
export const FEATURE_TAGS: readonly string[] = TAGS.filter((tag) => tag.type === 'number' || tag.type === 'boolean').map((tag) => tag.id);

/** The tag catalogue (标签体系): every column of mart.tags with its business meaning. Bump the version on any change. */
export const TAG_CATALOGUE_VERSION = '2026.11.3';

export type TagCategory = 'basic' | 'asset' | 'behaviour' | 'risk' | 'value' | 'lifecycle' | 'intent';
export type TagType = 'boolean' | 'enum' | 'number' | 'band';

export interface TagDefinition {
  id: string;
  nameZh: string;
  nameEn: string;
  category: TagCategory;
  type: TagType;
  definition: string;
  /** Version of this tag's definition: bumped when its meaning changes. */
  version: number;
  /** Values of enum and band tags, in display order. */
  values?: readonly string[];
}

const t = (id: string, nameZh: string, nameEn: string, category: TagCategory, type: TagType, definition: string, values?: readonly string[]): TagDefinition => ({
  id, nameZh, nameEn, category, type, definition, version: 1, ...(values ? { values } : {}),
});

/**
 * Windows are half-open and end at the close of the as-of date in the run's time zone: "30 days" means
 * [as_of + 1 day − 30 days, as_of + 1 day). Nothing after the as-of date is ever read.
 */
export const TAGS: readonly TagDefinition[] = [
  t('age', '年龄', 'Age', 'basic', 'number', 'Whole years between birth date and the as-of date'),
  t('age_band', '年龄段', 'Age band', 'basic', 'band', 'Age in bands', ['<25', '25-34', '35-44', '45-54', '55-64', '65+']),
  t('gender', '性别', 'Gender', 'basic', 'enum', 'From KYC, else from the resident ID number', ['M', 'F']),
  t('city_tier', '城市等级', 'City tier', 'basic', 'number', '1 = first-tier city, 2 = new first/second tier, 3 = other'),
  t('occupation', '职业', 'Occupation', 'basic', 'enum', 'Occupation from KYC'),
  t('tenure_years', '客户年限', 'Tenure (years)', 'basic', 'number', 'Years since the earliest opening of any source record'),
  t('annual_income', '年收入', 'Annual income', 'basic', 'number', 'Declared annual income (CNY)'),
  t('income_band', '收入段', 'Income band', 'basic', 'band', 'Declared annual income in bands (CNY)', ['<50k', '50k-100k', '100k-300k', '300k+']),

  t('total_deposits', '存款总额', 'Total deposits', 'asset', 'number', 'Sum over deposit accounts of the latest balance on or before the as-of date (CNY)'),
  t('aum_band', '资产等级', 'AUM band', 'asset', 'band', 'Total deposits in bands; 1M+ is 高净值 (high net worth)', ['<10k', '10k-50k', '50k-200k', '200k-1M', '1M+']),
  t('deposit_trend_30d', '30天存款趋势', 'Deposit trend 30d', 'asset', 'number', 'Total deposits now / 30 days earlier (null when there was nothing then)'),
  t('deposit_trend_90d', '90天存款趋势', 'Deposit trend 90d', 'asset', 'number', 'Total deposits now / 90 days earlier (null when there was nothing then)'),
  t('has_time_deposit', '持有定期', 'Holds time deposit', 'asset', 'boolean', 'Holds a time-deposit account opened on or before the as-of date'),
  t('time_deposit_balance', '定期余额', 'Time deposit balance', 'asset', 'number', 'Latest balance of time-deposit accounts (CNY)'),
  t('time_deposit_maturing_30d', '定期30天内到期', 'Time deposit maturing in 30d', 'asset', 'boolean', 'A time deposit matures in the 30 days after the as-of date'),
  t('loan_outstanding', '贷款余额', 'Loan outstanding', 'asset', 'number', 'Outstanding balance over all loans and cards opened on or before the as-of date (CNY)'),
  t('has_consumer_loan', '持有消费贷', 'Has consumer loan', 'asset', 'boolean', 'A consumer loan with outstanding balance'),
  t('has_credit_card', '持有信用卡', 'Has credit card', 'asset', 'boolean', 'Holds a credit card'),
  t('has_mortgage', '持有房贷', 'Has mortgage', 'asset', 'boolean', 'Holds a mortgage'),
  t('products_held', '持有产品数', 'Products held', 'asset', 'number', 'Distinct deposit and credit products held'),
  t('deposit_loan_gap', '存多贷少', 'Deposit-rich, loan-light', 'asset', 'boolean', 'Deposits at least 50,000 and at least 3 × loan outstanding'),

  t('txn_count_30d', '30天交易笔数', 'Transactions 30d', 'behaviour', 'number', 'Transactions in the last 30 days'),
  t('txn_amount_30d', '30天交易金额', 'Transaction amount 30d', 'behaviour', 'number', 'Sum of transaction amounts in the last 30 days (CNY)'),
  t('txn_count_90d', '90天交易笔数', 'Transactions 90d', 'behaviour', 'number', 'Transactions in the last 90 days'),
  t('txn_amount_90d', '90天交易金额', 'Transaction amount 90d', 'behaviour', 'number', 'Sum of transaction amounts in the last 90 days (CNY)'),
  t('inflow_30d', '30天流入', 'Inflow 30d', 'behaviour', 'number', 'Credits in the last 30 days (CNY)'),
  t('outflow_30d', '30天流出', 'Outflow 30d', 'behaviour', 'number', 'Debits in the last 30 days (CNY)'),
  t('preferred_channel', '偏好渠道', 'Preferred channel', 'behaviour', 'enum', 'Most used transaction channel in the last 90 days (ties: alphabetical)', ['atm', 'counter', 'mobile', 'online', 'pos']),
  t('active_time_band', '活跃时段', 'Active time band', 'behaviour', 'enum', 'Most frequent local time of transactions in the last 90 days', ['morning', 'afternoon', 'evening', 'night']),
  t('salary_credit', '代发工资', 'Salary credit', 'behaviour', 'boolean', 'A salary credit in the last 35 days'),
  t('salary_amount_avg', '月均代发金额', 'Average salary credit', 'behaviour', 'number', 'Average salary credit over the last 90 days (CNY)'),
  t('app_logins_7d', '7天APP登录', 'App logins 7d', 'behaviour', 'number', 'App logins in the last 7 days'),
  t('app_logins_30d', '30天APP登录', 'App logins 30d', 'behaviour', 'number', 'App logins in the last 30 days'),
  t('days_since_last_login', '距最近登录天数', 'Days since last login', 'behaviour', 'number', 'Days from the last app login to the as-of date (null: never)'),

  t('max_overdue_days', '最长逾期天数', 'Max overdue days', 'risk', 'number', 'Largest current overdue days over all loans'),
  t('overdue_loan_count', '逾期贷款数', 'Overdue loans', 'risk', 'number', 'Loans currently overdue'),
  t('complaints_90d', '90天投诉次数', 'Complaints 90d', 'risk', 'number', 'Complaints recorded in the last 90 days (any status)'),
  t('credit_band', '信用等级', 'Credit band', 'risk', 'band', 'From current overdue days: good (0), watch (1–30), substandard (31–90), doubtful (>90)', ['good', 'watch', 'substandard', 'doubtful']),

  t('days_since_last_txn', '距最近交易天数', 'Days since last transaction', 'value', 'number', 'RFM recency: days from the last transaction to the as-of date (null: none in 180 days)'),
  t('rfm_recency_score', 'R分', 'RFM recency score', 'value', 'number', 'Quintile of recency among the customers scored together (5 = most recent)'),
  t('rfm_frequency_score', 'F分', 'RFM frequency score', 'value', 'number', 'Quintile of 90-day transaction count (5 = most frequent)'),
  t('rfm_monetary_score', 'M分', 'RFM monetary score', 'value', 'number', 'Quintile of total deposits (5 = highest)'),
  t('rfm_cell', 'RFM单元', 'RFM cell', 'value', 'enum', 'R, F and M scores as "R5F3M4"'),
  t('clv_proxy', '客户价值估算', 'CLV proxy', 'value', 'number', 'Yearly margin proxy: 1.5% of deposits + 3% of loans + 2% of 90-day spend × 4 (CNY)'),
  t('cross_sell_count', '交叉销售数', 'Cross-sell count', 'value', 'number', 'Products held beyond the first'),

  t('lifecycle', '生命周期', 'Lifecycle', 'lifecycle', 'enum', 'new (<90 days) / churned (no deposits, no transaction in 180 days) / silent (none in 90 days) / churn_risk (deposits down >50% in 90 days) / growing (up >20%) / mature', ['new', 'growing', 'mature', 'silent', 'churn_risk', 'churned']),

  t('loan_views_7d', '7天贷款产品浏览', 'Loan product views 7d', 'intent', 'number', 'Loan product page views in the last 7 days'),
  t('loan_views_30d', '30天贷款产品浏览', 'Loan product views 30d', 'intent', 'number', 'Loan product page views in the last 30 days'),
  t('calculator_uses_7d', '近7天使用贷款计算器', 'Loan calculator uses 7d', 'intent', 'number', 'Loan calculator uses in the last 7 days'),
  t('calculator_uses_30d', '30天贷款计算器使用', 'Loan calculator uses 30d', 'intent', 'number', 'Loan calculator uses in the last 30 days'),
  t('application_starts_7d', '7天贷款申请发起', 'Application starts 7d', 'intent', 'number', 'Loan applications started in the last 7 days'),
  t('application_starts_30d', '30天贷款申请发起', 'Application starts 30d', 'intent', 'number', 'Loan applications started in the last 30 days'),
];

export const TAG_IDS: ReadonlySet<string> = new Set(TAGS.map((tag) => tag.id));

/** Numeric and boolean tags usable as model features (in this order). */
export const FEATURE_TAGS: readonly string[] = TAGS.filter((tag) => tag.type === 'number' || tag.type === 'boolean').map((tag) => tag.id);

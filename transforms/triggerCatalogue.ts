/**
 * Trigger events (行为触发营销): tag changes between a customer's previous run and this one that campaigns can
 * target. Conditions read `cur` (this run) and `prev` (the latest successful run of an earlier date).
 */
export const TRIGGER_EVENTS: readonly { id: string; nameZh: string; condition: string; value: string }[] = [
  { id: 'large_inflow', nameZh: '大额资金流入', condition: 'cur.total_deposits - prev.total_deposits >= 50000', value: 'total_deposits' },
  { id: 'balance_dropped_half', nameZh: '余额减半', condition: 'prev.total_deposits >= 10000 and cur.total_deposits < 0.5 * prev.total_deposits', value: 'total_deposits' },
  { id: 'loan_calculator_used', nameZh: '使用贷款计算器', condition: 'cur.calculator_uses_7d > 0 and coalesce(prev.calculator_uses_7d, 0) = 0', value: 'calculator_uses_7d' },
  { id: 'application_started', nameZh: '发起贷款申请', condition: 'cur.application_starts_7d > 0 and coalesce(prev.application_starts_7d, 0) = 0', value: 'application_starts_7d' },
  { id: 'time_deposit_maturing', nameZh: '定期即将到期', condition: 'cur.time_deposit_maturing_30d and not prev.time_deposit_maturing_30d', value: 'time_deposit_balance' },
  { id: 'became_silent', nameZh: '转为沉默', condition: "cur.lifecycle = 'silent' and prev.lifecycle <> 'silent'", value: 'txn_count_90d' },
];

/** Ids a campaign's `triggers:` may name. */
export const TRIGGER_IDS: ReadonlySet<string> = new Set(TRIGGER_EVENTS.map((e) => e.id));

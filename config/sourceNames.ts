/** The sources a daily run ingests. Pure (no I/O): workflows import it; the contracts live in sources.yaml. */
export const SOURCE_NAMES = ['customers', 'accounts', 'balances', 'loans', 'transactions', 'app_events', 'consent', 'campaign_contacts', 'complaints'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

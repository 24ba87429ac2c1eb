import type { Knex } from 'knex';
import * as schemas from './20261123000000_schemas';
import * as tagCatalogueSegments from './20261123120000_tag_catalogue_segments';
import * as modelLifecycle from './20261124000000_model_lifecycle';
import * as qualityChecks from './20261124100000_quality_checks';
import * as entityResolution from './20261124200000_entity_resolution';
import * as campaignDelivery from './20261124300000_campaign_delivery';
import * as outcomeResultsLabels from './20261124400000_outcome_results_labels';
import * as landingBrin from './20261202000000_landing_brin';
import * as landingPartitions from './20261205000000_landing_partitions';
import * as dispatchRunIndexes from './20261205100000_dispatch_run_indexes';
import * as runChain from './20261206000000_run_chain';
import * as eligibilityFacts from './20261206010000_eligibility_facts';
import * as suppressionLog from './20261206020000_suppression_log';
import * as replayRuns from './20261206030000_replay_runs';
import * as outcomeStatus from './20261206150000_outcome_status';
import * as ledgerProduct from './20261206200000_ledger_product';
import * as int8Sum from './20261207000000_int8_sum';

/** Migrations listed in code so they run the same from ts sources (tests) and the dist build. */
const migrations: Record<string, Knex.Migration> = {
  '20261123000000_schemas': schemas,
  '20261123120000_tag_catalogue_segments': tagCatalogueSegments,
  '20261124000000_model_lifecycle': modelLifecycle,
  '20261124100000_quality_checks': qualityChecks,
  '20261124200000_entity_resolution': entityResolution,
  '20261124300000_campaign_delivery': campaignDelivery,
  '20261124400000_outcome_results_labels': outcomeResultsLabels,
  '20261202000000_landing_brin': landingBrin,
  '20261205000000_landing_partitions': landingPartitions,
  '20261205100000_dispatch_run_indexes': dispatchRunIndexes,
  '20261206000000_run_chain': runChain,
  '20261206010000_eligibility_facts': eligibilityFacts,
  '20261206020000_suppression_log': suppressionLog,
  '20261206030000_replay_runs': replayRuns,
  '20261206150000_outcome_status': outcomeStatus,
  '20261206200000_ledger_product': ledgerProduct,
  '20261207000000_int8_sum': int8Sum,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

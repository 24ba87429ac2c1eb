import type { Knex } from 'knex';
import * as schemas from './20261123000000_schemas';
import * as tagCatalogueSegments from './20261123120000_tag_catalogue_segments';
import * as outcomeResultsLabels from './20261124400000_outcome_results_labels';

/** Migrations listed in code so they run the same from ts sources (tests) and the dist build. */
const migrations: Record<string, Knex.Migration> = {
  '20261123000000_schemas': schemas,
  '20261123120000_tag_catalogue_segments': tagCatalogueSegments,
  '20261124400000_outcome_results_labels': outcomeResultsLabels,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

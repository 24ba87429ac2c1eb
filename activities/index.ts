import type { ActivityDeps } from './deps';
import { createRunActivities } from './runs';
import { createIngestActivities } from './ingest';
import { createCleanActivities } from './clean';
import { createTagActivities } from './tags';
import { createSegmentActivities } from './segment';
import { createScoreActivities } from './score';
import { createDispatchActivities } from './dispatch';
import { createDeliveryActivities } from './deliver';
import { createOutcomeActivities } from './outcomes';
import { createOperationActivities } from './operations';

export type { ActivityDeps } from './deps';

/** Every activity of Portrait, bound to its dependencies (samples-typescript: activities-dependency-injection). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createRunActivities(deps),
    ...createIngestActivities(deps),
    ...createCleanActivities(deps),
    ...createTagActivities(deps),
    ...createSegmentActivities(deps),
    ...createScoreActivities(deps),
    ...createDispatchActivities(deps),
    ...createDeliveryActivities(deps),
    ...createOutcomeActivities(deps),
    ...createOperationActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

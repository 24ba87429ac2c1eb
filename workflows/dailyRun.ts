import { ApplicationFailure, CancellationScope, ParentClosePolicy, defineQuery, executeChild, patched, setHandler, startChild, workflowInfo } from '@temporalio/workflow';
import { SOURCE_NAMES } from '../config/sourceNames';
import { ErrorType, QUERY_PROGRESS, type DailyRunInput, type DailyRunResult, type RunProgress, type Stage, type StageResult } from '../shared';
import type { ModelRef } from '../activities/modelRegistry';
import { delivery, long, quick } from './policies';
import { collectOutcomes } from './collectOutcomes';

export const progressQuery = defineQuery<RunProgress>(QUERY_PROGRESS);

/**
 * One daily run for one as-of date: ingest → clean → tags → segment → score → dispatch, then one
 * collectOutcomes child per campaign dispatch. Activities exchange references (run id, shard, paths), never rows.
 */
export async function dailyRun(input: DailyRunInput): Promise<DailyRunResult> {
  const progress: RunProgress = { runId: input.runId, asOf: input.asOf, currentStage: 'starting', completed: [], stages: [], sources: [] };
  setHandler(progressQuery, () => progress);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(input.asOf)) throw ApplicationFailure.nonRetryable(`asOf must be YYYY-MM-DD, got "${input.asOf}"`, ErrorType.InvalidInput);
  const { config, runId, asOf } = input;
  const stages: StageResult[] = [];
  const begin = (stage: Stage) => {
    progress.currentStage = stage;
  };
  const done = (result: StageResult) => {
    stages.push(result);
    progress.completed.push(result.stage);
    progress.stages!.push({ stage: result.stage, rows: result.rows, seconds: stageSeconds(result) });
  };

  let registered = false;
  try {
    const { seed, snapshotDir } = await quick.registerRun({ ...input, workflowId: workflowInfo().workflowId });
    registered = true;

    begin('ingest');
    let { startedAt } = await quick.beginStage({ runId, stage: 'ingest' });
    // Runs started before the complaints source existed replay without it (patched → deprecatePatch → removal).
    const sources = patched('ingest-complaints') ? SOURCE_NAMES : SOURCE_NAMES.filter((s) => s !== 'complaints');
    const loads = await Promise.all(
      sources.map(async (source) => {
        const load = await long.ingestSource({ runId, inputDir: input.inputDir, source, asOf, timezone: config.timezone });
        progress.sources!.push({ source: load.source, loaded: load.loaded, quarantined: load.quarantined });
        return load;
      }),
    );
    // Whole-table work (quality gates, quarantine and score snapshots, deciles over every score): at 1M customers it
    // outgrew the quick policy's 2 minutes, so it heartbeats under the long one.
    done(await long.completeIngest({ runId, loads, maxRejectRate: config.quality.maxRejectRate, startedAt, asOf, timezone: config.timezone }));

    // A failed stage cancels the work started beside it, so nothing of a failed run keeps running.
    const beside = new CancellationScope();
    begin('clean');
    // The tags' per-key partials read only the landing rows: computed while clean runs (it leaves a core idle for
    // half its time). Runs recorded before compute them in the tags stage.
    const partials = patched('tag-partials-beside-clean') ? beside.run(() => long.computeTagPartials({ runId, asOf, timezone: config.timezone })) : null;
    // Observed before tags; this keeps a failure while clean still runs from being an unhandled rejection.
    partials?.catch(() => undefined);
    try {
      done(await long.cleanCustomers({ runId }));
    } catch (err) {
      beside.cancel();
      throw err;
    }

    // Training reads the landing and clean tables (and earlier runs' outcome labels), never this run's tags; scoring
    // reads the tags, never the segments. So both products' models are trained beside tags, and scoring runs beside
    // segment: on 2 cores at 1M the single-session phases of tags and segment left a core idle for minutes.
    // Runs recorded before replay the stages one after the other.
    const overlap = patched('score-beside-tags');
    const ensureModel = (product: string) => {
      const pinned = input.pinnedModels?.[product];
      return long.ensureModel({ runId, asOf, timezone: config.timezone, product, params: { ...config.model }, seed, ...(pinned ? { pinned } : {}) });
    };
    const shards = Array.from({ length: config.shards }, (_, shard) => shard);
    const scoreAll = async (models: ModelRef[], startedAt: string) => {
      for (const model of models) await Promise.all(shards.map((shard) => long.scoreShard({ runId, shard, shards: config.shards, model })));
      return long.completeScoring({ runId, models, startedAt });
    };
    // One training query for every product reads and joins the sources once; runs recorded before train one per product.
    const ensureModels = () =>
      patched('training-sets-together')
        ? long.ensureModels({ runId, asOf, timezone: config.timezone, products: [...config.model.products], params: { ...config.model }, seed, ...(input.pinnedModels ? { pinned: input.pinnedModels } : {}) })
        : Promise.all(config.model.products.map(ensureModel));
    const training = overlap ? beside.run(ensureModels) : null;
    // Observed below; this keeps a failure while tags still runs from being an unhandled rejection.
    training?.catch(() => undefined);
    try {
      begin('tags');
      if (partials) await partials;
      done(await long.computeTags({ runId, asOf, timezone: config.timezone }));

      if (training) {
        begin('segment');
        let scoring = true;
        const segmented = beside.run(async () => {
          const result = await long.assignSegments({ runId, rules: [...config.segments], clustering: config.clustering, seed });
          if (scoring) begin('score');
          return result;
        });
        const scored = beside.run(async () => {
          const { startedAt: scoreStartedAt } = await quick.beginStage({ runId, stage: 'score' });
          const result = await scoreAll(await training, scoreStartedAt);
          scoring = false;
          return result;
        });
        const [segmentResult, scoreResult] = await Promise.all([segmented, scored]);
        // Recorded in stage order whichever finished first, so the run's result does not depend on timing.
        done(segmentResult);
        done(scoreResult);
      } else {
        begin('segment');
        done(await long.assignSegments({ runId, rules: [...config.segments], clustering: config.clustering, seed }));

        begin('score');
        ({ startedAt } = await quick.beginStage({ runId, stage: 'score' }));
        // Each product's training set is one long query on one PostgreSQL core: side by side they use both (1M: the
        // two took 57 s one after the other). Runs recorded before replay one product at a time.
        if (patched('models-together')) {
          done(await scoreAll(await Promise.all(config.model.products.map(ensureModel)), startedAt));
        } else {
          const models = [];
          for (const product of config.model.products) {
            const model = await ensureModel(product);
            await Promise.all(shards.map((shard) => long.scoreShard({ runId, shard, shards: config.shards, model })));
            models.push(model);
          }
          done(await long.completeScoring({ runId, models, startedAt }));
        }
      }
    } catch (err) {
      beside.cancel();
      throw err;
    }

    begin('dispatch');
    // Runs recorded before webhook delivery existed replay without the delivery config and activities.
    const deliverWebhooks = patched('deliver-webhooks');
    const dispatched = await long.dispatchCampaigns({ runId, asOf, timezone: config.timezone, campaigns: [...config.campaigns], policies: config.policies, ...(deliverWebhooks ? { delivery: config.delivery } : {}) });
    const { dispatches, ...dispatchStage } = dispatched;
    if (deliverWebhooks && config.delivery) {
      const { webhooks, ...options } = config.delivery;
      const withWebhook = dispatches.filter((d) => d.channel && webhooks[d.channel]);
      const delivered = await Promise.all(
        withWebhook.map((d) => {
          const campaign = config.campaigns.find((c) => c.id === d.campaignId)!;
          return delivery.deliverWebhook({ asOf, campaign: { id: campaign.id, name: campaign.name, channel: campaign.channel }, url: webhooks[campaign.channel]!.url, options });
        }),
      );
      if (delivered.length) dispatchStage.details = { ...dispatchStage.details, webhooks: delivered };
    }
    done(dispatchStage);

    begin('outcomes');
    const children = [];
    // A replay waits for no later data: the outcomes its original collected are re-attributed below, from pinned data.
    for (const d of input.replayOf ? [] : dispatches) {
      children.push(
        await startChild(collectOutcomes, {
          workflowId: `${workflowInfo().workflowId}-outcomes-${d.campaignId}`,
          args: [{ runId, asOf, campaignId: d.campaignId, attributionWindow: config.outcomes.attributionWindow, collectAfter: config.outcomes.collectAfter, campaign: config.campaigns.find((c) => c.id === d.campaignId)! }],
          // Outcomes outlive the daily run by weeks: the run finishes, its children keep waiting.
          parentClosePolicy: ParentClosePolicy.ABANDON,
        }),
      );
    }
    if (input.awaitOutcomes) await Promise.all(children.map((c) => c.result()));

    progress.currentStage = 'done';
    let { manifestSha256 } = await quick.finalizeRun({ runId });
    // Runs recorded before report.html existed replay without it. It also marks uncollected outcomes pending.
    if (patched('run-report')) ({ manifestSha256 } = await long.writeRunReport({ runId }));
    // A replay's outcomes: what its original collected, from the data runs they pinned, after the report as there.
    if (input.replayOf && input.replayOutcomes?.length && patched('replay-outcomes')) {
      await Promise.all(
        input.replayOutcomes.map(({ campaignId, dataRunId }) =>
          executeChild(collectOutcomes, {
            workflowId: `${workflowInfo().workflowId}-outcomes-${campaignId}`,
            args: [{ runId, asOf, campaignId, attributionWindow: config.outcomes.attributionWindow, dataRunId, campaign: config.campaigns.find((c) => c.id === campaignId)! }],
          }),
        ),
      );
      ({ manifestSha256 } = await long.writeRunReport({ runId }));
    }
    return { runId, asOf, snapshotDir, manifestSha256, stages, outcomeWorkflowIds: children.map((c) => c.workflowId) };
  } catch (err) {
    // A cancelled run's scope refuses new activities, so also a failure that raced the cancel is recorded from here.
    if (CancellationScope.current().consideredCancelled) {
      const stage = progress.currentStage;
      progress.currentStage = 'cancelled';
      // The run's own scope is cancelled: the bookkeeping must run outside it, or it would be cancelled too.
      await CancellationScope.nonCancellable(() => quick.cancelRun({ runId, message: `cancelled during ${stage}; portrait rerun ${runId} runs ${asOf} again` }));
    } else if (registered) {
      progress.currentStage = 'failed';
      await quick.failRun({ runId, message: describe(err) });
    }
    throw err;
  }
}

/** Seconds between the timestamps the recording activity took; null for results recorded before they existed. */
function stageSeconds(result: StageResult): number | null {
  if (!result.startedAt || !result.finishedAt) return null;
  return Math.round(Date.parse(result.finishedAt) - Date.parse(result.startedAt)) / 1000;
}

function describe(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  // Activity failures wrap the real cause; the innermost message is the actionable one.
  while (e && e.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}


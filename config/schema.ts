import { z } from 'zod';
import { FEATURE_TAGS, TAG_IDS } from '../transforms/tagCatalogue';
import { TRIGGER_IDS } from '../transforms/triggerCatalogue';
import { isTimeZone } from '../transforms/scheduleDate';

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'duration like 30d, 12h, 10s or 500ms');

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'time of day HH:MM (24 h)');
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'date YYYY-MM-DD');

/** The time zone of runs recorded before `timezone` was part of the config (their histories and rows read it). */
export const LEGACY_TIMEZONE = 'Asia/Shanghai';

export const RETENTION_DEFAULTS = { landingRuns: 3, landingDays: 3 } as const;

/** Products a campaign may offer; only those with a model in model.products can be dispatched (checked below). */
export const CAMPAIGN_PRODUCTS = ['consumer_loan', 'mortgage', 'credit_card', 'wealth', 'time_deposit'] as const;
export const CHANNELS = ['sms', 'app_push', 'wechat', 'call', 'email'] as const;
export type Channel = (typeof CHANNELS)[number];

export const campaignSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_]*$/),
    name: z.string().min(1),
    product: z.enum(CAMPAIGN_PRODUCTS),
    segments: z.array(z.string()).default([]),
    /** Trigger events (transforms/triggerCatalogue.ts) that also qualify a customer, whatever the segment. */
    triggers: z.array(z.string()).default([]),
    channel: z.enum(CHANNELS),
    costPerContact: z.number().nonnegative(),
    valuePerConversion: z.number().nonnegative(),
    /** Maximum contacts (treatment arm) per run. */
    budget: z.number().int().positive(),
    minScore: z.number().min(0).max(1),
    holdoutShare: z.number().min(0).max(0.5),
    /** Lower number wins arbitration. */
    priority: z.number().int().positive(),
    /** Inclusive as-of dates; outside them the campaign is inactive (not evaluated). Open-ended when absent. */
    startDate: isoDate.optional(),
    endDate: isoDate.optional(),
    templateId: z.string().min(1),
    /** Local send time in the run's time zone on the day after the as-of date (quiet hours are checked against it). */
    sendTime: hhmm,
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.segments.length === 0 && c.triggers.length === 0) ctx.addIssue({ code: 'custom', path: ['segments'], message: 'a campaign needs target segments or trigger events' });
    c.triggers.forEach((t, i) => {
      if (!TRIGGER_IDS.has(t)) ctx.addIssue({ code: 'custom', path: ['triggers', i], message: `unknown trigger event "${t}" (known: ${[...TRIGGER_IDS].join(', ')})` });
    });
    if (c.startDate && c.endDate && c.endDate < c.startDate) ctx.addIssue({ code: 'custom', path: ['endDate'], message: `endDate ${c.endDate} is before startDate ${c.startDate}` });
  });

const webhookSchema = z.object({ url: z.string().url() }).strict();

/** Optional sinks beyond the files: a webhook per channel. */
export const deliverySchema = z
  .object({
    webhooks: z.object(Object.fromEntries(CHANNELS.map((c) => [c, webhookSchema.optional()])) as Record<Channel, z.ZodOptional<typeof webhookSchema>>).strict().default({}),
    batchSize: z.number().int().min(1).max(1000).default(100),
    concurrency: z.number().int().min(1).max(64).default(4),
    /** Attempts per batch inside one activity attempt (5xx, 429, timeouts); Temporal retries the activity after that. */
    maxAttempts: z.number().int().min(1).max(20).default(5),
    initialBackoffMs: z.number().int().min(1).max(60_000).default(200),
    requestTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  })
  .strict();

export const configSchema = z
  .object({
    seed: z.number().int().nonnegative(),
    timezone: z.string().refine(isTimeZone, (tz) => ({ message: `"${tz}" is not an IANA time zone (e.g. Asia/Shanghai)` })),
    shards: z.number().int().min(1).max(1024),
    quality: z.object({ maxRejectRate: z.number().min(0).max(1) }).strict(),
    segmentsVersion: z.string().min(1),
    segments: z.array(z.object({ id: z.string().regex(/^[a-z][a-z0-9_]*$/), name: z.string().min(1), when: z.string().min(1).max(2000) }).strict()).min(1),
    clustering: z
      .object({
        enabled: z.boolean(),
        features: z.array(z.string()).min(1),
        k: z.array(z.number().int().min(2).max(20)).min(1),
        sampleSize: z.number().int().min(100).max(1_000_000),
      })
      .strict(),
    model: z
      .object({
        products: z.array(z.string()).min(1),
        trees: z.number().int().min(1).max(500),
        maxDepth: z.number().int().min(1).max(30),
        minSamplesLeaf: z.number().int().min(1),
        maxTrainingRows: z.number().int().min(50),
        /** Labelled contacts of the last this many days train the models; older ones age out, so training stays bounded. */
        trainingWindowDays: z.number().int().min(31).max(3660).default(365),
        /** Latest share of training contacts (whole days) held out to judge candidates against the champion. */
        holdoutShare: z.number().gt(0).max(0.5).default(0.2),
        /** A holdout with fewer positives (or negatives) than this cannot replace a champion. */
        minHoldoutPositives: z.number().int().min(1).default(20),
        /** Tags never used as features (protected attributes), for every product. */
        excludeFeatures: z.array(z.string()).default([]),
        /** Extra exclusions where a product's rules say so, e.g. { credit_card: [age] }. */
        excludeFeaturesByProduct: z.record(z.string(), z.array(z.string())).default({}),
      })
      .strict(),
    campaigns: z.array(campaignSchema).min(1),
    policies: z
      .object({
        maxOverdueDaysForLoanOffer: z.number().int().nonnegative(),
        /** Credit bands (tag credit_band) that never get a credit offer, whatever the overdue days. */
        highRiskCreditBands: z.array(z.enum(['good', 'watch', 'substandard', 'doubtful'])).default(['substandard', 'doubtful']),
        frequencyCap: z.object({ contacts: z.number().int().positive(), days: z.number().int().positive() }).strict(),
        /** Contacts per customer per channel per calendar day (run time zone), across all campaigns. */
        channelDailyCap: z.number().int().positive().default(1),
        /** Days without offers after a conversion (any product) or a refusal (an opt-out on any channel). */
        cooldownDays: z.object({ conversion: z.number().int().nonnegative(), refusal: z.number().int().nonnegative() }).strict().default({ conversion: 30, refusal: 30 }),
        /** No sends on these channels when the scheduled send time falls in [start, end) (wraps midnight). */
        quietHours: z.object({ start: hhmm, end: hhmm, channels: z.array(z.enum(CHANNELS)) }).strict().default({ start: '21:00', end: '08:00', channels: ['sms', 'call'] }),
        /** Share of all customers held out of every campaign (stable hash of golden_id). */
        globalHoldoutShare: z.number().min(0).max(0.5).default(0.05),
        /** Control share is flagged when it is further than this many binomial standard deviations from the expected share. */
        controlShareTolerance: z.number().positive().default(3),
      })
      .strict(),
    delivery: deliverySchema.default({}),
    /**
     * Landing partitions (validated source rows) are a working area: a run's are dropped once it is neither among the
     * latest `landingRuns` successful runs nor within `landingDays` days of the newest as-of date. Audit rows,
     * quarantine, core/mart/campaign history and snapshots are never dropped.
     */
    retention: z
      .object({
        landingRuns: z.number().int().min(1).default(RETENTION_DEFAULTS.landingRuns),
        landingDays: z.number().int().min(0).default(RETENTION_DEFAULTS.landingDays),
      })
      .strict()
      .default({}),
    outcomes: z
      .object({
        attributionWindow: duration,
        /** How long collectOutcomes sleeps before attributing; defaults to the window (shorter only for demos and tests). */
        collectAfter: duration.optional(),
      })
      .strict(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const segmentIds = new Set(cfg.segments.map((s) => s.id));
    const last = cfg.segments[cfg.segments.length - 1];
    if (last && last.when.trim().toLowerCase() !== 'true') {
      ctx.addIssue({ code: 'custom', path: ['segments', cfg.segments.length - 1, 'when'], message: "the last segment must be the catch-all 'true' so every customer gets exactly one primary segment" });
    }
    cfg.segments.forEach((s, i) => {
      if (cfg.segments.findIndex((o) => o.id === s.id) !== i) ctx.addIssue({ code: 'custom', path: ['segments', i, 'id'], message: `duplicate segment id "${s.id}"` });
    });
    cfg.campaigns.forEach((c, i) => {
      c.segments.forEach((s, j) => {
        if (!segmentIds.has(s)) ctx.addIssue({ code: 'custom', path: ['campaigns', i, 'segments', j], message: `unknown segment "${s}"` });
      });
      if (!cfg.model.products.includes(c.product)) {
        ctx.addIssue({ code: 'custom', path: ['campaigns', i, 'product'], message: `product "${c.product}" has no model: add it to model.products in portrait.yaml or remove the campaign` });
      }
    });
    cfg.model.products.forEach((product, i) => {
      if (!(CAMPAIGN_PRODUCTS as readonly string[]).includes(product)) ctx.addIssue({ code: 'custom', path: ['model', 'products', i], message: `unknown product "${product}" (known: ${CAMPAIGN_PRODUCTS.join(', ')})` });
      else if (cfg.model.products.indexOf(product) !== i) ctx.addIssue({ code: 'custom', path: ['model', 'products', i], message: `duplicate product "${product}"` });
    });
    cfg.clustering.features.forEach((tag, i) => {
      if (!FEATURE_TAGS.includes(tag)) ctx.addIssue({ code: 'custom', path: ['clustering', 'features', i], message: TAG_IDS.has(tag) ? `tag "${tag}" is not numeric or boolean: k-means needs numbers` : `unknown tag "${tag}" (see portrait tags list)` });
    });
    cfg.model.excludeFeatures.forEach((tag, i) => {
      if (!TAG_IDS.has(tag)) ctx.addIssue({ code: 'custom', path: ['model', 'excludeFeatures', i], message: `unknown tag "${tag}" (see portrait tags list)` });
    });
    for (const [product, tags] of Object.entries(cfg.model.excludeFeaturesByProduct)) {
      if (!cfg.model.products.includes(product)) ctx.addIssue({ code: 'custom', path: ['model', 'excludeFeaturesByProduct', product], message: `product "${product}" is not in model.products` });
      tags.forEach((tag, i) => {
        if (!TAG_IDS.has(tag)) ctx.addIssue({ code: 'custom', path: ['model', 'excludeFeaturesByProduct', product, i], message: `unknown tag "${tag}" (see portrait tags list)` });
      });
    }
    const ids = cfg.campaigns.map((c) => c.id);
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) ctx.addIssue({ code: 'custom', path: ['campaigns', i, 'id'], message: `duplicate campaign id "${id}"` });
    });
  });

export type PortraitConfig = z.infer<typeof configSchema>;
export type CampaignConfig = z.infer<typeof campaignSchema>;
export type SegmentRule = PortraitConfig['segments'][number];

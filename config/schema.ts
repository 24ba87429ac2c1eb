import { z } from 'zod';

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'duration like 30d, 12h, 10s or 500ms');

export const campaignSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_]*$/),
    name: z.string().min(1),
    product: z.string().min(1),
    segments: z.array(z.string()).min(1),
    /** Trigger events (see activities/tags.ts) that also qualify a customer, whatever the segment. */
    triggers: z.array(z.string()).default([]),
    channel: z.enum(['sms', 'app_push', 'wechat', 'call', 'email']),
    costPerContact: z.number().nonnegative(),
    valuePerConversion: z.number().nonnegative(),
    budget: z.number().int().positive(),
    minScore: z.number().min(0).max(1),
    holdoutShare: z.number().min(0).max(0.5),
    priority: z.number().int().positive(),
  })
  .strict();

export const configSchema = z
  .object({
    seed: z.number().int().nonnegative(),
    timezone: z.string().min(1),
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
      })
      .strict(),
    campaigns: z.array(campaignSchema).min(1),
    policies: z
      .object({
        maxOverdueDaysForLoanOffer: z.number().int().nonnegative(),
        frequencyCap: z.object({ contacts: z.number().int().positive(), days: z.number().int().positive() }).strict(),
      })
      .strict(),
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
        ctx.addIssue({ code: 'custom', path: ['campaigns', i, 'product'], message: `product "${c.product}" is not in model.products` });
      }
    });
    const ids = cfg.campaigns.map((c) => c.id);
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) ctx.addIssue({ code: 'custom', path: ['campaigns', i, 'id'], message: `duplicate campaign id "${id}"` });
    });
  });

export type PortraitConfig = z.infer<typeof configSchema>;
export type CampaignConfig = z.infer<typeof campaignSchema>;
export type SegmentRule = PortraitConfig['segments'][number];

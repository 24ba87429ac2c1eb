import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError, configSha256, loadConfig, parseConfig } from '../../config/load';
import type { PortraitConfig } from '../../config/schema';
import { configErrorOf } from '../helpers/configError';

const YAML_PATH = path.resolve(__dirname, '..', '..', 'config', 'portrait.yaml');
// A fresh, mutable copy of the shipped config each time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const SEGMENTS_PATH = path.resolve(__dirname, '..', '..', 'config', 'segments.yaml');
const CAMPAIGNS_PATH = path.resolve(__dirname, '..', '..', 'config', 'campaigns.yaml');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const base = (): any => {
  const segments = YAML.parse(readFileSync(SEGMENTS_PATH, 'utf8'));
  const campaigns = YAML.parse(readFileSync(CAMPAIGNS_PATH, 'utf8'));
  return { ...YAML.parse(readFileSync(YAML_PATH, 'utf8')), segmentsVersion: String(segments.version), segments: segments.segments, clustering: segments.clustering, campaigns: campaigns.campaigns };
};

const messageOf = configErrorOf;

/** Rebuilds an object with keys reversed at every level (arrays keep their order). */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).reverse().map((k) => [k, reverseKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

describe('loadConfig: the shipped config', () => {
  const saved = process.env.PORTRAIT_CONFIG;
  beforeAll(() => {
    delete process.env.PORTRAIT_CONFIG;
  });
  afterAll(() => {
    if (saved !== undefined) process.env.PORTRAIT_CONFIG = saved;
  });

  it('loads with the values from portrait.yaml', () => {
    const cfg = loadConfig();
    expect(cfg.seed).toBe(20261123);
    expect(cfg.timezone).toBe('Asia/Shanghai');
    expect(cfg.shards).toBe(4);
    expect(cfg.segments.map((s) => s.id)).toEqual(['risk_watch', 'high_net_worth', 'deposit_loan_potential', 'active_borrower', 'churn_risk', 'low_activity', 'mass_market']);
    expect(cfg.segments[cfg.segments.length - 1]!.when).toBe('true');
    expect(cfg.segmentsVersion).toBe('2026.11.1');
    expect(cfg.model.products).toEqual(['consumer_loan', 'credit_card']);
    expect(cfg.campaigns.map((c) => [c.id, c.product, c.holdoutShare])).toEqual([
      ['cl_q4_sms', 'consumer_loan', 0.1],
      ['cc_q4_push', 'credit_card', 0.1],
    ]);
    expect(cfg.campaigns.map((c) => [c.channel, c.templateId, c.sendTime, c.startDate, c.endDate])).toEqual([
      ['sms', 'SMS_CL_Q4_01', '10:00', '2026-10-01', '2026-12-31'],
      ['app_push', 'PUSH_CC_Q4_01', '19:30', '2026-10-01', '2026-12-31'],
    ]);
    expect(cfg.policies).toEqual({
      maxOverdueDaysForLoanOffer: 30,
      highRiskCreditBands: ['substandard', 'doubtful'],
      frequencyCap: { contacts: 2, days: 7 },
      channelDailyCap: 1,
      cooldownDays: { conversion: 30, refusal: 30 },
      quietHours: { start: '21:00', end: '08:00', channels: ['sms', 'call'] },
      globalHoldoutShare: 0.05,
      controlShareTolerance: 3,
    });
    expect(cfg.delivery).toEqual({ webhooks: {}, batchSize: 100, concurrency: 4, maxAttempts: 5, initialBackoffMs: 200, requestTimeoutMs: 10000 });
    expect(cfg.outcomes.attributionWindow).toBe('30d');
  });

  it('equals parseConfig of the same YAML and is deeply frozen', () => {
    const cfg = loadConfig(YAML_PATH);
    expect(cfg).toEqual(parseConfig(base()));
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.campaigns[0])).toBe(true);
    expect(Object.isFrozen(cfg.policies.frequencyCap)).toBe(true);
  });

  describe('file problems', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'portrait-config-test-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('a missing file is a ConfigError', () => {
      const file = path.join(dir, 'missing.yaml');
      expect(() => loadConfig(file)).toThrow(ConfigError);
      expect(() => loadConfig(file)).toThrow(`cannot read config file ${file}`);
    });

    it('invalid YAML is a ConfigError', () => {
      const file = path.join(dir, 'bad.yaml');
      writeFileSync(file, 'seed: [1, 2\n');
      expect(() => loadConfig(file)).toThrow(`config file ${file} is not valid YAML`);
    });

    it('a schema problem names the file and the field', () => {
      const file = path.join(dir, 'shards.yaml');
      writeFileSync(file, readFileSync(YAML_PATH, 'utf8').replace('shards: 4', 'shards: 0'));
      writeFileSync(path.join(dir, 'segments.yaml'), readFileSync(SEGMENTS_PATH, 'utf8'));
      writeFileSync(path.join(dir, 'campaigns.yaml'), readFileSync(CAMPAIGNS_PATH, 'utf8'));
      expect(() => loadConfig(file)).toThrow(`invalid config file ${file}: shards: Number must be greater than or equal to 1`);
    });

    it('a campaign problem in campaigns.yaml names the field; a missing campaigns.yaml is named', () => {
      const sub = mkdtempSync(path.join(dir, 'c-'));
      const file = path.join(sub, 'portrait.yaml');
      writeFileSync(file, readFileSync(YAML_PATH, 'utf8'));
      writeFileSync(path.join(sub, 'segments.yaml'), readFileSync(SEGMENTS_PATH, 'utf8'));
      expect(() => loadConfig(file)).toThrow(`cannot read campaigns file ${path.join(sub, 'campaigns.yaml')}`);
      writeFileSync(path.join(sub, 'campaigns.yaml'), readFileSync(CAMPAIGNS_PATH, 'utf8').replace('budget: 1500', 'budget: -1'));
      expect(() => loadConfig(file)).toThrow(`invalid config file ${file}: campaigns.0.budget: Number must be greater than 0`);
    });

    it('a missing segments file is named', () => {
      const empty = mkdtempSync(path.join(os.tmpdir(), 'portrait-config-nosegments-'));
      const file = path.join(empty, 'portrait.yaml');
      writeFileSync(file, readFileSync(YAML_PATH, 'utf8'));
      expect(() => loadConfig(file)).toThrow(`cannot read segments file ${path.join(empty, 'segments.yaml')}`);
      rmSync(empty, { recursive: true, force: true });
    });
  });
});

describe('parseConfig: field paths in errors', () => {
  it('holdoutShare out of range', () => {
    const raw = base();
    raw.campaigns[0].holdoutShare = 0.7;
    expect(messageOf(raw)).toBe('invalid config: campaigns.0.holdoutShare: Number must be less than or equal to 0.5');
  });

  it('unknown segment in a campaign', () => {
    const raw = base();
    raw.campaigns[1].segments[2] = 'vip';
    expect(messageOf(raw)).toBe('invalid config: campaigns.1.segments.2: unknown segment "vip"');
  });

  it('product not in model.products', () => {
    const raw = base();
    raw.campaigns[0].product = 'mortgage';
    expect(messageOf(raw)).toBe('invalid config: campaigns.0.product: product "mortgage" has no model: add it to model.products in portrait.yaml or remove the campaign');
  });

  it('product outside the catalogue', () => {
    const raw = base();
    raw.campaigns[1].product = 'business_loan';
    expect(messageOf(raw)).toMatch(/^invalid config: campaigns\.1\.product: Invalid enum value\. Expected 'consumer_loan' \| 'mortgage' \| 'credit_card' \| 'wealth' \| 'time_deposit', received 'business_loan'/);
  });

  it('campaign fields: channel, send time, dates, template, targets', () => {
    const cases: [(c: Record<string, unknown>) => void, string][] = [
      [(c) => (c.channel = 'fax'), 'campaigns.0.channel: Invalid enum value'],
      [(c) => (c.sendTime = '25:00'), 'campaigns.0.sendTime: time of day HH:MM (24 h)'],
      [(c) => (c.startDate = '2026/10/01'), 'campaigns.0.startDate: date YYYY-MM-DD'],
      [(c) => (c.endDate = '2026-09-30'), 'campaigns.0.endDate: endDate 2026-09-30 is before startDate 2026-10-01'],
      [(c) => delete c.templateId, 'campaigns.0.templateId: Required'],
      [(c) => ((c.segments = []), (c.triggers = [])), 'campaigns.0.segments: a campaign needs target segments or trigger events'],
      [(c) => (c.triggers = ['large_inflow', 'big_inflow']), 'campaigns.0.triggers.1: unknown trigger event "big_inflow" (known: large_inflow, balance_dropped_half,'],
    ];
    for (const [mutate, expected] of cases) {
      const raw = base();
      mutate(raw.campaigns[0]);
      expect(messageOf(raw)).toContain(expected);
    }
  });

  it('policies and delivery fields', () => {
    const raw = base();
    raw.policies.quietHours.start = '9pm';
    raw.policies.globalHoldoutShare = 0.9;
    raw.delivery.webhooks.sms = { url: 'not a url' };
    const message = messageOf(raw);
    expect(message).toContain('policies.quietHours.start: time of day HH:MM (24 h)');
    expect(message).toContain('policies.globalHoldoutShare: Number must be less than or equal to 0.5');
    expect(message).toContain('delivery.webhooks.sms.url: Invalid url');
  });

  it('last segment not a catch-all', () => {
    const raw = base();
    raw.segments[6].when = 'age > 0';
    expect(messageOf(raw)).toBe(
      "invalid config: segments.6.when: the last segment must be the catch-all 'true' so every customer gets exactly one primary segment",
    );
  });

  it('unknown top-level key', () => {
    const raw = base();
    raw.extra = 1;
    expect(messageOf(raw)).toBe("invalid config: (root): Unrecognized key(s) in object: 'extra'");
  });

  it('unknown nested key', () => {
    const raw = base();
    raw.policies.frequencyCap.window = '7d';
    expect(messageOf(raw)).toBe("invalid config: policies.frequencyCap: Unrecognized key(s) in object: 'window'");
  });

  it('model products outside the catalogue or repeated, clustering features that are not numeric tags', () => {
    const raw = base();
    raw.model.products = [...raw.model.products, 'business_loan', raw.model.products[0]];
    raw.clustering.features = [raw.clustering.features[0], 'gender', 'total_deposit'];
    const n = raw.model.products.length;
    expect(messageOf(raw)).toBe(
      `invalid config: model.products.${n - 2}: unknown product "business_loan" (known: consumer_loan, mortgage, credit_card, wealth, time_deposit); ` +
        `model.products.${n - 1}: duplicate product "${raw.model.products[0]}"; ` +
        'clustering.features.1: tag "gender" is not numeric or boolean: k-means needs numbers; clustering.features.2: unknown tag "total_deposit" (see portrait tags list)',
    );
  });

  it('a time zone that is not an IANA name', () => {
    const raw = base();
    raw.timezone = 'Asia/Shangai';
    expect(messageOf(raw)).toBe('invalid config: timezone: "Asia/Shangai" is not an IANA time zone (e.g. Asia/Shanghai)');
  });

  it('duplicate campaign id', () => {
    const raw = base();
    raw.campaigns[1].id = 'cl_q4_sms';
    expect(messageOf(raw)).toBe('invalid config: campaigns.1.id: duplicate campaign id "cl_q4_sms"');
  });

  it('bad duration and bad tag id', () => {
    const raw = base();
    raw.outcomes.attributionWindow = '30 days';
    raw.segments[0].id = 'Risk Watch';
    expect(messageOf(raw)).toBe('invalid config: segments.0.id: Invalid; outcomes.attributionWindow: duration like 30d, 12h, 10s or 500ms');
  });

  it('outcomes.collectAfter is optional, and a bad one is named', () => {
    const raw = base();
    (raw.outcomes as Record<string, unknown>).collectAfter = 'soon';
    expect(messageOf(raw)).toBe('invalid config: outcomes.collectAfter: duration like 30d, 12h, 10s or 500ms');
    (raw.outcomes as Record<string, unknown>).collectAfter = '10s';
    expect(parseConfig(raw).outcomes).toEqual({ attributionWindow: '30d', collectAfter: '10s' });
  });

  it('a segment rule that does not type-check names the rule, line and column', () => {
    const raw = base();
    raw.segments[1].when = 'total_deposit >= 1000000';
    expect(messageOf(raw)).toMatch(/^invalid config: segments\.1\.when \(high_net_worth\): unknown tag "total_deposit".* at line 1, column 1$/);
  });

  it('missing and mistyped fields', () => {
    const raw = base();
    delete raw.seed;
    raw.model.trees = 'many';
    const msg = messageOf(raw);
    expect(msg).toContain('seed: Required');
    expect(msg).toContain('model.trees: Expected number, received string');
  });

  it('names the source in the message', () => {
    expect(() => parseConfig({}, 'my.yaml')).toThrow(/^invalid my\.yaml: /);
    expect(() => parseConfig(null)).toThrow('invalid config: (root): Expected object, received null');
  });
});

describe('configSha256', () => {
  const cfg = parseConfig(base());
  const sha = configSha256(cfg);

  it('is 64 hex characters and stable', () => {
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    expect(configSha256(parseConfig(base()))).toBe(sha);
  });

  it('does not depend on key order', () => {
    expect(configSha256(parseConfig(reverseKeys(base())))).toBe(sha);
    const reordered = reverseKeys(cfg) as PortraitConfig;
    expect(Object.keys(reordered)[0]).not.toBe(Object.keys(cfg)[0]);
    expect(configSha256(reordered)).toBe(sha);
  });

  it('changes with any value, including array order', () => {
    const raw = base();
    raw.campaigns[0].budget = 1501;
    expect(configSha256(parseConfig(raw))).not.toBe(sha);
    const swapped = base();
    swapped.model.products.reverse();
    expect(configSha256(parseConfig(swapped))).not.toBe(sha);
  });
});

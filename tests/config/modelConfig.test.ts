import { loadConfig } from '../../config/load';
import { modelFeatures } from '../../activities/modelRegistry';
import { configErrorOf } from '../helpers/configError';

// A mutable copy of the shipped configuration, whichever files it is assembled from.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const shipped = (): any => structuredClone(loadConfig());

const messageOf = configErrorOf;

describe('model lifecycle settings', () => {
  it('ship with a time holdout and no excluded features', () => {
    const cfg = loadConfig();
    expect(cfg.model.holdoutShare).toBeGreaterThan(0);
    expect(cfg.model.holdoutShare).toBeLessThanOrEqual(0.5);
    expect(cfg.model.minHoldoutPositives).toBeGreaterThanOrEqual(1);
  });

  it('name an unknown protected attribute with its exact field', () => {
    const raw = shipped();
    raw.model.excludeFeatures = ['age', 'ethnicity'];
    expect(messageOf(raw)).toBe('invalid config: model.excludeFeatures.1: unknown tag "ethnicity" (see portrait tags list)');
  });

  it('reject per-product exclusions for a product without a model', () => {
    const raw = shipped();
    raw.model.excludeFeaturesByProduct = { mortgage: ['age'] };
    expect(messageOf(raw)).toBe('invalid config: model.excludeFeaturesByProduct.mortgage: product "mortgage" is not in model.products');
  });

  it('reject a holdout share outside (0, 0.5]', () => {
    const raw = shipped();
    raw.model.holdoutShare = 0.9;
    expect(messageOf(raw)).toContain('model.holdoutShare');
  });
});

describe('modelFeatures', () => {
  it('drops protected attributes globally and per product, and never uses relative RFM scores', () => {
    const all = modelFeatures('consumer_loan', { excludeFeatures: [], excludeFeaturesByProduct: {} });
    expect(all.features).toContain('age');
    expect(all.features).not.toContain('rfm_recency_score');
    const loan = modelFeatures('consumer_loan', { excludeFeatures: ['tenure_years'], excludeFeaturesByProduct: { consumer_loan: ['age'] } });
    expect(loan.features).not.toContain('age');
    expect(loan.features).not.toContain('tenure_years');
    expect(loan.excluded).toEqual(['age', 'tenure_years']);
    const card = modelFeatures('credit_card', { excludeFeatures: ['tenure_years'], excludeFeaturesByProduct: { consumer_loan: ['age'] } });
    expect(card.features).toContain('age');
    expect(card.features.length).toBe(all.features.length - 1);
  });
});

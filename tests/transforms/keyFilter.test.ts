import { KeyFilter, keyFilterBits } from '../../transforms/keyFilter';

describe('KeyFilter', () => {
  it('reports every repeated key (no false negatives) and few false positives', () => {
    const filter = new KeyFilter(1 << 20);
    const n = 50_000;
    let falsePositives = 0;
    for (let i = 0; i < n; i++) if (filter.addAndCheck(`T${String(i).padStart(12, '0')}`)) falsePositives++;
    for (let i = 0; i < n; i += 7) expect(filter.addAndCheck(`T${String(i).padStart(12, '0')}`)).toBe(true);
    // ~21 bits per key and 6 probes in one 512-bit block: well under 1 % false positives.
    expect(falsePositives / n).toBeLessThan(0.01);
  });

  it('keys differing only in where a part ends are different keys', () => {
    const filter = new KeyFilter(1 << 16);
    expect(filter.addAndCheck('ab\u0000c')).toBe(false);
    expect(filter.addAndCheck('a\u0000bc')).toBe(false);
    expect(filter.addAndCheck('ab\u0000c')).toBe(true);
  });

  it('sizes the filter from the input size within fixed bounds', () => {
    expect(keyFilterBits(0)).toBe(1 << 19);
    expect(keyFilterBits(3_000_000_000)).toBe(1 << 29);
    expect(keyFilterBits(null)).toBe((1 << 20) * 16);
    expect(new KeyFilter(keyFilterBits(3_000_000_000)).bytes).toBe(64 << 20);
  });
});

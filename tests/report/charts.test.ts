import { barChart, renderSvg } from '../../report/charts';
import { MESSAGES, translator } from '../../report/messages';

describe('renderSvg', () => {
  it('gives the same SVG for the same chart whatever was drawn before in the process', () => {
    const draw = () => barChart('c1', { categories: ['a', 'b'], series: [{ name: 'x', values: [1, 2] }, { name: 'y', values: [3, 4] }], stack: true });
    const first = draw();
    renderSvg('other', { xAxis: { type: 'category', data: ['q'] }, yAxis: {}, series: [{ type: 'line', data: [5] }] });
    expect(draw()).toBe(first);
    expect(first).toMatch(/^<svg role="img" aria-label="c1"/);
    expect(first).not.toMatch(/zr\d+-/);
    // Style classes (and clip-path ids) are the chart's own, numbered from 0, so two charts on one page cannot collide.
    expect(first).toContain('class="c1-cls-0"');
  });
});

describe('message table', () => {
  it('has every label in both languages, none empty', () => {
    expect(Object.keys(MESSAGES.en).sort()).toEqual(Object.keys(MESSAGES.zh).sort());
    for (const lang of ['zh', 'en'] as const) for (const [k, v] of Object.entries(MESSAGES[lang])) expect({ k, empty: v.trim() === '' }).toEqual({ k, empty: false });
  });

  it('fills placeholders, labels enum values, and picks the language of a "中文 / English" name', () => {
    const zh = translator('zh');
    const en = translator('en');
    expect(zh.t('pendingUntil', { date: '2026-12-20' })).toBe('待定：归因窗口至 2026-12-20 结束，届时结果为最终值。');
    expect(en.value('policy', 'no_consent')).toBe('No consent');
    expect(en.value('policy', 'some_new_reason')).toBe('some_new_reason');
    expect(zh.name('消费贷 Q4 短信 / Consumer loan Q4 SMS')).toBe('消费贷 Q4 短信');
    expect(en.name('消费贷 Q4 短信 / Consumer loan Q4 SMS')).toBe('Consumer loan Q4 SMS');
    expect(en.name('plain')).toBe('plain');
  });
});

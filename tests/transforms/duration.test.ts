import { durationMs } from '../../transforms/duration';

describe('durationMs', () => {
  it.each([
    ['30d', 30 * 86_400_000],
    ['1d', 86_400_000],
    ['12h', 43_200_000],
    ['15m', 900_000],
    ['10s', 10_000],
    ['500ms', 500],
    ['0s', 0],
    ['90m', 5_400_000],
  ])('%s → %i ms', (text, ms) => {
    expect(durationMs(text)).toBe(ms);
  });

  it.each([[''], ['10'], ['1.5h'], ['10 s'], [' 10s'], ['-5s'], ['10D'], ['1w'], ['ms'], ['5sec'], ['P30D']])('rejects %j', (text) => {
    expect(() => durationMs(text)).toThrow(`invalid duration "${text}"; use e.g. 30d, 12h, 10s`);
  });
});

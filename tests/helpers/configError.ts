import { ConfigError, parseConfig } from '../../config/load';

/** The message of the ConfigError that parseConfig must throw for `raw`. */
export function configErrorOf(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected parseConfig to throw');
}

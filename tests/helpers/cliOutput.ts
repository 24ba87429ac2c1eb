/**
 * Runs `portrait` commands in-process against one database with stdout captured: `printed()` returns what was
 * written since the last `clear()`. `restore()` puts stdout and DATABASE_URL back.
 */
export function captureCli(databaseUrl: string) {
  const saved = { url: process.env.DATABASE_URL, write: process.stdout.write };
  let text = '';
  process.env.DATABASE_URL = databaseUrl;
  process.stdout.write = ((chunk: string) => {
    text += chunk;
    return true;
  }) as typeof process.stdout.write;
  return {
    printed: () => text,
    clear: () => {
      text = '';
    },
    restore: () => {
      process.stdout.write = saved.write;
      process.env.DATABASE_URL = saved.url;
    },
  };
}

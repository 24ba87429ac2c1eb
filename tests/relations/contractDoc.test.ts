import { readFileSync } from 'node:fs';
import path from 'node:path';
import { updateContractDoc } from '../../relations/contractDoc';
import { RUN_SNAPSHOTS } from '../../relations/snapshots';
import { contractType } from '../../relations/types';

const doc = readFileSync(path.join(__dirname, '../../docs/CONTRACT.md'), 'utf8');

test('docs/CONTRACT.md lists every declared file and column as relations/snapshots.ts declares them (npm run contract:doc)', () => {
  expect(updateContractDoc(doc)).toBe(doc);
});

test('every declared type is one the contract document explains', () => {
  const scalars = RUN_SNAPSHOTS.flatMap((r) => r.columns.map((c) => contractType(c.type))).flatMap((t) => t.match(/VARCHAR|BOOLEAN|INT32|INT64|DOUBLE|DECIMAL\(18,2\)|DATE|TIMESTAMP\(UTC,MICROS\)/g) ?? []);
  for (const t of new Set(scalars)) expect(doc).toContain(`| \`${t}\` |`);
});

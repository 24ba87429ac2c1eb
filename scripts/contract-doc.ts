/** Rewrites the generated per-file tables of docs/CONTRACT.md from relations/snapshots.ts: `npm run contract:doc`. */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findProjectRoot } from '../services/temporal';
import { updateContractDoc } from '../relations/contractDoc';

const file = path.join(findProjectRoot(__dirname), 'docs', 'CONTRACT.md');
writeFileSync(file, updateContractDoc(readFileSync(file, 'utf8')));
process.stdout.write(`${file} updated\n`);

import { RUN_SNAPSHOTS, deliveryFile, trainingSet } from './snapshots';
import { contractType, type RelationDef } from './types';

const BEGIN = '<!-- files: generated from relations/snapshots.ts by `npm run contract:doc`; do not edit by hand -->';
const END = '<!-- end of generated files -->';

function renderRelation(def: RelationDef, file = `\`${def.file}\``): string {
  const rows = def.columns.map((c) => `| \`${c.name}\` | ${contractType(c.type).replace(/\|/g, '\\|').replace(/</g, '&lt;')} | ${c.nullable ? 'yes' : 'no'} | ${c.pg} | ${(c.doc ?? '').replace(/\|/g, '\\|')} |`);
  return [
    `### ${file}`,
    '',
    def.doc,
    '',
    `Key: ${def.key.map((k) => `\`${k}\``).join(', ')}. Sorted by: ${def.orderBySql ? 'see below' : def.sortBy.map((k) => `\`${k}\``).join(', ')}.`,
    '',
    '| column | type | nullable | PostgreSQL | meaning |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

/** The per-file sections of docs/CONTRACT.md, between their markers. */
export function renderFiles(): string {
  const sections = RUN_SNAPSHOTS.map((def) => renderRelation(def));
  sections.push(renderRelation(deliveryFile(['idempotency_key', 'campaign_id', 'campaign_name', 'template_id', 'send_at', '…channel fields']), '`deliveries/<campaign>/<campaign>_<channel>.parquet`'));
  sections.push(renderRelation(trainingSet(['…one column per model feature']), '`<model folder>/training.parquet` (not in a run folder)'));
  return [BEGIN, '', ...sections, END].join('\n');
}

/** docs/CONTRACT.md with its generated part replaced by the current declarations. */
export function updateContractDoc(doc: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/CONTRACT.md lacks the markers ${BEGIN} … ${END}`);
  return doc.slice(0, start) + renderFiles() + doc.slice(end + END.length);
}

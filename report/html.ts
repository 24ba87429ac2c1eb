import { TAGS } from '../transforms/tagCatalogue';
import { wilsonInterval } from '../transforms/lift';
import type { ResultRow } from '../transforms/outcomeResults';
import { barChart, barLineChart, curveChart, fmtInt, funnelChart, heatmapChart, lineChart, rateErrorBarChart, waterfallChart } from './charts';
import { translator, type Lang, type MessageKey, type Translator } from './messages';
import type { CampaignReport, ModelReport, OutcomeReport, ReportData } from './queries';

/**
 * report.html from the run's aggregates: one self-contained page (inline CSS, inline SVG, no script, no link to
 * anything), a section per topic, each starting on a new A4 page when printed. Every chart is a <figure
 * data-chart="…"> with its numbers in a table beside it.
 */
export function renderReportHtml(data: ReportData, lang: Lang): string {
  const tr = translator(lang);
  const { t } = tr;
  const sections: [MessageKey, string][] = [
    ['secOverview', overview(data, tr)],
    ['secQuality', quality(data, tr)],
    ['secSegments', segments(data, tr)],
    ['secBase', base(data, tr)],
    ['secModels', models(data, tr)],
    ['secCampaigns', campaigns(data, tr)],
    ['secOutcomes', outcomes(data, tr)],
    ['secHistory', history(data, tr)],
  ];
  const toc = sections.map(([key], i) => `<li><a href="#s${i + 1}">${esc(t(key))}</a></li>`).join('');
  const body = sections.map(([key, html], i) => `<section id="s${i + 1}"><h2>${i + 1}. ${esc(t(key))}</h2>\n${html}\n</section>`).join('\n');
  return `<!DOCTYPE html>
<html lang="${t('lang')}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(t('title'))} · ${esc(data.run.runId)} · ${esc(data.run.asOf)}</title>
<style>${CSS}</style>
</head>
<body>
<header class="cover">
<h1>${esc(t('title'))}</h1>
<p class="meta">${esc(t('asOf'))} <b>${esc(data.run.asOf)}</b> · ${esc(t('runId'))} <b>${esc(data.run.runId)}</b> · ${esc(t('status'))} <b>${esc(statusLabel(data.run.status, tr))}</b></p>
<p class="note">${esc(t('generatedFrom'))}</p>
<nav><h3>${esc(t('toc'))}</h3><ol>${toc}</ol></nav>
</header>
${body}
<footer>${esc(t('footer'))}</footer>
</body>
</html>
`;
}

const CSS = `
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
body { font-family: 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', 'Microsoft YaHei', 'PingFang SC', 'Helvetica Neue', Arial, sans-serif; color: #222; margin: 0 auto; max-width: 1180px; padding: 16px; font-size: 13px; line-height: 1.45; }
h1 { font-size: 24px; margin: 0 0 6px; color: #1f3f6b; }
h2 { font-size: 19px; border-bottom: 2px solid #1f5fa8; padding-bottom: 4px; color: #1f3f6b; margin-top: 28px; }
h3 { font-size: 15px; margin: 18px 0 6px; color: #1f3f6b; }
h4 { font-size: 13px; margin: 10px 0 4px; }
.meta { font-size: 14px; margin: 4px 0; }
.note { color: #555; margin: 4px 0 10px; }
nav ol { columns: 2; margin: 4px 0; }
nav a { color: #1f5fa8; text-decoration: none; }
.pair { display: flex; flex-wrap: wrap; gap: 12px 20px; align-items: flex-start; margin: 6px 0 14px; break-inside: avoid; page-break-inside: avoid; }
figure.chart { margin: 0; flex: 0 1 680px; max-width: 100%; }
figure.chart figcaption { font-weight: 600; margin-bottom: 2px; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
.numbers { flex: 1 1 320px; min-width: 280px; overflow-x: auto; }
table { border-collapse: collapse; font-size: 12px; margin: 4px 0; }
th, td { border: 1px solid #d5dbe3; padding: 3px 7px; text-align: right; white-space: nowrap; }
th { background: #eef3f9; font-weight: 600; }
td.l, th.l { text-align: left; }
table.kv th { text-align: left; }
table.kv td { text-align: left; white-space: normal; word-break: break-all; }
.pending { border-left: 4px solid #e8833a; background: #fff6ee; padding: 8px 12px; margin: 8px 0; }
.final { color: #2d7a46; font-weight: 600; }
.warn { color: #b26b00; } .fail { color: #b3261e; font-weight: 600; }
footer { margin-top: 30px; color: #777; font-size: 11px; }
section { break-before: page; page-break-before: always; }
@media print { body { max-width: none; padding: 0; } nav a { color: #222; } .pair { display: block; } .numbers { margin-top: 4px; } }
`;

// ---------- formatting ----------

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
const pct = (x: number | null | undefined, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)}%`);
const dec = (x: number | null | undefined, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const money = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ','));
const int = (x: number | null | undefined) => (x === null || x === undefined ? '–' : fmtInt(x));
const ci = (lo: number | null, hi: number | null) => (lo === null || hi === null ? '–' : `[${pct(lo)}, ${pct(hi)}]`);

function table(headers: string[], rows: string[][], leftColumns = 1): string {
  const cls = (i: number) => (i < leftColumns ? ' class="l"' : '');
  return `<table><thead><tr>${headers.map((h, i) => `<th${cls(i)}>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function figure(id: string, caption: string, svg: string, numbers: string): string {
  return `<div class="pair"><figure class="chart" data-chart="${esc(id)}"><figcaption>${esc(caption)}</figcaption>${svg}</figure><div class="numbers">${numbers}</div></div>`;
}

function statusLabel(status: string, { t }: Translator): string {
  const key = ({ succeeded: 'statusSucceeded', running: 'statusRunning', failed: 'statusFailed', cancelled: 'statusCancelled' } as Record<string, MessageKey>)[status];
  return key ? t(key) : status;
}

const TAG_NAMES = new Map(TAGS.map((tag) => [tag.id, tag]));
function tagName(id: string, lang: Lang): string {
  const tag = TAG_NAMES.get(id);
  return tag ? (lang === 'zh' ? tag.nameZh : tag.nameEn) : id;
}
function bandOrder(tagId: string): readonly string[] {
  return TAG_NAMES.get(tagId)?.values ?? [];
}

// ---------- sections ----------

function overview(d: ReportData, tr: Translator): string {
  const { t } = tr;
  const kv = [
    [t('runId'), d.run.runId],
    [t('asOf'), d.run.asOf],
    [t('status'), statusLabel(d.run.status, tr)],
    [t('customers'), int(d.run.customers)],
    [t('codeVersion'), d.run.codeVersion],
    [t('configVersion'), d.run.configSha256],
    [t('seed'), String(d.run.seed)],
    [t('timezone'), d.run.timezone],
    ...Object.entries(d.run.modelVersions).map(([product, v]) => [`${t('modelVersions')} · ${tr.value('product', product)}`, v]),
  ];
  const info = `<table class="kv"><tbody>${kv.map(([k, v]) => `<tr><th>${esc(k!)}</th><td>${esc(v!)}</td></tr>`).join('')}</tbody></table>`;
  if (!d.campaigns.length) return `${info}<p>${esc(t('noCampaigns'))}</p>`;
  const names = d.campaigns.map((c) => tr.name(c.name));
  const chart = barChart('overview-contacts', { categories: names, stack: true, series: [{ name: t('treatment'), values: d.campaigns.map((c) => c.treatment) }, { name: t('control'), values: d.campaigns.map((c) => c.control) }] });
  const numbers = table([t('campaign'), t('channel'), t('treatment'), t('control'), t('total')], d.campaigns.map((c, i) => [names[i]!, tr.value('channel', c.channel), int(c.treatment), int(c.control), int(c.treatment + c.control)]));
  return info + figure('overview-contacts', t('contactsByCampaign'), chart, numbers);
}

function quality(d: ReportData, tr: Translator): string {
  const { t } = tr;
  const sources = d.sources.map((s) => s.source);
  const rows = figure(
    'quality-sources',
    t('rowsBySource'),
    barChart('quality-sources', { categories: sources, horizontal: true, stack: true, height: 60 + 28 * sources.length, series: [{ name: t('loaded'), values: d.sources.map((s) => s.loaded) }, { name: t('quarantined'), values: d.sources.map((s) => s.quarantined), color: '#c8463d' }] }),
    table([t('source'), t('rowsIn'), t('loaded'), t('quarantined'), t('quarantineRate')], d.sources.map((s) => [s.source, int(s.rowsIn), int(s.loaded), int(s.quarantined), pct(s.rowsIn ? s.quarantined / s.rowsIn : null)])),
  );
  const reasons = d.quarantineReasons.length
    ? figure(
        'quality-reasons',
        t('quarantineByReason'),
        barChart('quality-reasons', { categories: d.quarantineReasons.map((r) => r.reason), horizontal: true, height: 60 + 26 * d.quarantineReasons.length, series: [{ name: t('rows'), values: d.quarantineReasons.map((r) => r.rows), color: '#c8463d' }] }),
        table([t('reason'), t('rows')], d.quarantineReasons.map((r) => [r.reason, int(r.rows)])),
      )
    : `<p>${esc(t('noQuarantine'))}</p>`;
  const g = d.gates;
  const gateText = g.flagged.length ? t('gatesSummary', { n: g.total, pass: g.pass, warn: g.warn, fail: g.fail }) : t('gatesAllPassed', { n: g.total });
  const gateName = (check: string) => {
    const [kind, column] = check.split(':');
    const label = tr.value('gate', kind!);
    return column ? `${label} (${column})` : label;
  };
  const gates = `<h3>${esc(t('gates'))}</h3><p>${esc(gateText)}</p>${
    g.flagged.length
      ? table([t('source'), t('gateCheck'), t('status'), t('gateMeasured'), t('gateThreshold')], g.flagged.map((f) => [f.source, gateName(f.check), f.status === 'fail' ? t('gateFail') : t('gateWarn'), dec(f.measured, 4), dec(f.threshold, 4)]), 2)
      : ''
  }`;
  return rows + reasons + gates;
}

function segments(d: ReportData, tr: Translator): string {
  const { t, lang } = tr;
  if (!d.segments.length) return `<p>${esc(t('notAvailable'))}</p>`;
  const names = d.segments.map((s) => tr.name(s.name));
  const sizes = figure(
    'segments-sizes',
    t('segmentSizes'),
    barChart('segments-sizes', { categories: names, horizontal: true, height: 60 + 30 * names.length, series: [{ name: t('size'), values: d.segments.map((s) => s.size) }] }),
    table([t('segment'), t('size'), t('share'), t('members')], d.segments.map((s, i) => [names[i]!, int(s.size), pct(s.share, 1), int(s.members)])),
  );
  const profiles = d.segments
    .filter((s) => s.distinguishing.length)
    .map((s) => {
      const id = `segment-profile-${s.segment}`;
      const tags = s.distinguishing.map((x) => tagName(x.tag, lang));
      return figure(
        id,
        `${tr.name(s.name)} · ${t('smd')}`,
        barChart(id, { categories: tags, horizontal: true, height: 60 + 30 * tags.length, series: [{ name: t('smd'), values: s.distinguishing.map((x) => x.smd) }] }),
        table([t('tag'), t('segmentMean'), t('populationMean'), t('smd')], s.distinguishing.map((x, i) => [tags[i]!, dec(x.segment_mean), dec(x.population_mean), dec(x.smd)])),
      );
    })
    .join('');
  return `${sizes}<h3>${esc(t('distinguishing'))}</h3>${profiles}`;
}

function base(d: ReportData, tr: Translator): string {
  const { t } = tr;
  const ordered = (dist: ReportData['base']['aum'], order: readonly string[]) =>
    [...dist].sort((a, b) => rank(order, a.value) - rank(order, b.value) || (a.value < b.value ? -1 : 1));
  const distFigure = (id: string, caption: MessageKey, dist: ReportData['base']['aum'], label: (v: string) => string) => {
    const total = dist.reduce((n, x) => n + x.customers, 0);
    return figure(
      id,
      t(caption),
      barChart(id, { categories: dist.map((x) => label(x.value)), series: [{ name: t('customerCount'), values: dist.map((x) => x.customers) }] }),
      table([t('band'), t('customerCount'), t('share')], dist.map((x) => [label(x.value), int(x.customers), pct(total ? x.customers / total : null, 1)])),
    );
  };
  const blank = (v: string) => (v === '' ? t('notAvailable') : v);
  const rs = [1, 2, 3, 4, 5];
  const cell = (r: number, f: number) => d.base.rfm.find((c) => c.r === r && c.f === f)?.customers ?? 0;
  const rfm = figure(
    'base-rfm',
    t('rfmHeatmap'),
    heatmapChart('base-rfm', { xName: t('rfmF'), yName: t('rfmR'), xs: rs, ys: rs, cells: d.base.rfm.map((c) => ({ x: c.f, y: c.r, value: c.customers })) }),
    table(['R \\ F', ...rs.map(String)], [...rs].reverse().map((r) => [String(r), ...rs.map((f) => int(cell(r, f)))])),
  );
  return (
    distFigure('base-aum', 'aumDistribution', ordered(d.base.aum, bandOrder('aum_band')), blank) +
    rfm +
    distFigure('base-lifecycle', 'lifecycleDistribution', ordered(d.base.lifecycle, bandOrder('lifecycle')), (v) => tr.value('lifecycle', v)) +
    distFigure('base-age', 'ageDistribution', ordered(d.base.age, bandOrder('age_band')), blank)
  );
}

function rank(order: readonly string[], v: string): number {
  const i = order.indexOf(v);
  return i < 0 ? order.length : i;
}

function models(d: ReportData, tr: Translator): string {
  const { t } = tr;
  if (!d.models.length) return `<p>${esc(t('noModel'))}</p>`;
  return d.models.map((m) => model(m, tr)).join('');
}

function model(m: ModelReport, tr: Translator): string {
  const { t, lang } = tr;
  const id = (kind: string) => `model-${kind}-${m.product}`;
  const head = `<h3>${esc(tr.value('product', m.product))} · ${esc(m.version)}</h3>${table([t('modelVersion'), t('auc'), t('holdoutRows')], [[m.version, dec(m.auc, 4), int(m.holdoutRows)]])}`;
  const roc = m.roc && m.roc.length
    ? figure(id('roc'), `${t('rocCurve')} · AUC ${dec(m.auc, 4)}`, curveChart(id('roc'), { xName: t('fpr'), yName: t('tpr'), max: 1, series: [{ name: `${t('auc')} ${dec(m.auc, 4)}`, points: m.roc }, { name: t('randomLine'), points: [[0, 0], [1, 1]], dashed: true }] }),
        table([t('fpr'), t('tpr')], thin(m.roc, 11).map(([x, y]) => [dec(x, 3), dec(y, 3)]), 0))
    : `<p>${esc(t('rocNotStored'))} AUC ${esc(dec(m.auc, 4))}</p>`;
  const gains = m.gains.length
    ? figure(id('gains'), t('gainsLift'), barLineChart(id('gains'), { categories: m.gains.map((g) => String(g.decile)), bars: [{ name: t('lift'), values: m.gains.map((g) => finite(g.lift)) }], line: { name: t('cumulativeCapture'), values: m.gains.map((g) => finite(g.cumulativeCapture)), percent: true } }),
        table([t('decile'), t('rows'), t('rate'), t('lift'), t('cumulativeCapture')], m.gains.map((g) => [String(g.decile), int(g.rows), pct(g.rate), dec(g.lift), pct(g.cumulativeCapture, 1)]), 0))
    : '';
  const cal = m.calibration.filter((c) => c.rows > 0 && c.meanPredicted !== null && c.observedRate !== null);
  const calibration = cal.length
    ? figure(id('calibration'), t('calibration'), curveChart(id('calibration'), { xName: t('predicted'), yName: t('observed'), max: roundUp(Math.max(...cal.map((c) => Math.max(c.meanPredicted!, c.observedRate!)))), series: [{ name: t('observed'), points: cal.map((c) => [c.meanPredicted!, c.observedRate!]), symbols: true }, { name: t('perfectCalibration'), points: [[0, 0], [1, 1]], dashed: true }] }),
        table([t('band'), t('rows'), t('predicted'), t('observed')], cal.map((c) => [`${dec(c.lower, 1)}–${dec(c.upper, 1)}`, int(c.rows), pct(c.meanPredicted), pct(c.observedRate)]), 0))
    : '';
  const importance = m.importance.length
    ? figure(id('importance'), t('importance'), barChart(id('importance'), { categories: m.importance.map((f) => tagName(f.feature, lang)), horizontal: true, height: 60 + 24 * m.importance.length, series: [{ name: t('feature'), values: m.importance.map((f) => f.importance) }] }),
        table([t('feature'), t('importanceValue')], m.importance.map((f) => [tagName(f.feature, lang), dec(f.importance, 4)])))
    : '';
  const dd = m.decision;
  const decision = `<h4>${esc(t('decisionTitle'))}</h4>${
    dd
      ? table([t('candidate'), t('champion'), `${t('candidate')} AUC`, `${t('champion')} AUC`, t('holdoutRows'), t('decision'), t('decisionReason')], [[dd.candidate, dd.champion ?? '–', dec(dd.candidateAuc, 4), dec(dd.championAuc, 4), int(dd.holdoutRows), dd.event === 'promoted' ? t('decisionPromoted') : t('decisionKept'), tr.value('decisionReason', dd.reason)]], 2)
      : `<p>${esc(t('decisionNone'))}</p>`
  }`;
  return head + roc + gains + calibration + importance + decision;
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function roundUp(x: number): number {
  return Math.min(1, Math.ceil(x * 20) / 20 || 0.05);
}

function thin<T>(xs: T[], n: number): T[] {
  if (xs.length <= n) return xs;
  return Array.from({ length: n }, (_, k) => xs[Math.round((k * (xs.length - 1)) / (n - 1))]!);
}

function campaigns(d: ReportData, tr: Translator): string {
  const { t } = tr;
  if (!d.campaigns.length) return `<p>${esc(t('noCampaigns'))}</p>`;
  return d.campaigns.map((c) => campaign(c, tr)).join('');
}

function campaign(c: CampaignReport, tr: Translator): string {
  const { t } = tr;
  const stages = [
    { name: t('evaluated'), value: c.evaluated },
    { name: t('eligible'), value: c.eligible },
    { name: t('selected'), value: c.selected },
    { name: t('treatment'), value: c.treatment },
    { name: t('control'), value: c.control },
  ];
  const head = `<h3>${esc(tr.name(c.name))} <small>(${esc(c.id)} · ${esc(tr.value('product', c.product))} · ${esc(tr.value('channel', c.channel))})</small></h3>`;
  const funnel = figure(`campaign-funnel-${c.id}`, t('funnel'), funnelChart(`campaign-funnel-${c.id}`, stages), table(['', t('customerCount')], stages.map((s) => [s.name, int(s.value)])));
  const waterfall = figure(
    `campaign-waterfall-${c.id}`,
    t('waterfall'),
    waterfallChart(`campaign-waterfall-${c.id}`, { start: { name: t('evaluated'), value: c.evaluated }, steps: c.exclusions.map((e) => ({ name: tr.value('policy', e.reason), value: e.customers })), end: { name: t('selected'), value: c.selected }, excludedName: t('excluded'), remainingName: t('remaining') }),
    table([t('reason'), t('excluded')], c.exclusions.map((e) => [tr.value('policy', e.reason), int(e.customers)])),
  );
  return head + funnel + waterfall;
}

function outcomes(d: ReportData, tr: Translator): string {
  const { t } = tr;
  if (!d.outcomes.length) return `<p>${esc(t('noOutcomes'))}</p>`;
  const names = new Map(d.campaigns.map((c) => [c.id, tr.name(c.name)]));
  const segmentNames = new Map(d.segments.map((s) => [s.segment, tr.name(s.name)]));
  return d.outcomes.map((o) => outcome(o, names.get(o.campaignId) ?? o.campaignId, (id) => segmentNames.get(id) ?? id, tr)).join('');
}

function outcome(o: OutcomeReport, name: string, segmentName: (id: string) => string, tr: Translator): string {
  const { t } = tr;
  const total = o.rows.find((r) => r.dimension === 'campaign');
  const head = `<h3>${esc(name)} <small>(${esc(o.campaignId)})</small> · <span class="${o.status === 'final' ? 'final' : 'warn'}">${esc(o.status === 'final' ? t('final') : t('pending'))}</span></h3>`;
  if (!total) return head;
  if (o.status === 'pending') {
    const observed = o.observedThrough && total.treatment_conversions !== null ? `<br>${esc(t('pendingObserved', { date: o.observedThrough, t: total.treatment_conversions, c: total.control_conversions ?? 0 }))}` : `<br>${esc(t('pendingNotCollected'))}`;
    return `${head}<div class="pending" data-pending-until="${esc(o.finalOn)}">${esc(t('pendingUntil', { date: o.finalOn }))}${observed}</div>${table([t('treatment'), t('control'), t('cost'), t('finalOn')], [[int(total.treatment_contacts), int(total.control_contacts), money(total.cost), o.finalOn]], 0)}`;
  }
  const id = (kind: string) => `outcome-${kind}-${o.campaignId}`;
  const tci = wilsonInterval(total.treatment_conversions ?? 0, total.treatment_contacts);
  const cci = wilsonInterval(total.control_conversions ?? 0, total.control_contacts);
  const rates = figure(
    id('rates'),
    t('conversionByArm'),
    rateErrorBarChart(id('rates'), { categories: [t('treatment'), t('control')], rates: [total.treatment_rate, total.control_rate], intervals: [tci, cci] }),
    table([t('campaign'), t('contacts'), t('conversions'), t('conversionRate'), t('ci95')], [
      [t('treatment'), int(total.treatment_contacts), int(total.treatment_conversions), pct(total.treatment_rate), ci(tci?.[0] ?? null, tci?.[1] ?? null)],
      [t('control'), int(total.control_contacts), int(total.control_conversions), pct(total.control_rate), ci(cci?.[0] ?? null, cci?.[1] ?? null)],
    ]) +
      `<table class="kv"><tbody>${[
        [t('absoluteLift'), `${pct(total.absolute_lift)} ${ci(total.absolute_lift_newcombe_lo, total.absolute_lift_newcombe_hi)}`],
        [t('relativeLift'), `${pct(total.relative_lift, 1)} ${ci(total.relative_lift_lo, total.relative_lift_hi)}`],
        [t('incrementalConversions'), dec(total.incremental_conversions, 1)],
        [t('cost'), money(total.cost)],
        [t('value'), money(total.value)],
        [t('incrementalValue'), money(total.incremental_value)],
        [t('roi'), dec(total.roi, 2)],
        [t('qiniCoefficient'), dec(total.qini_coefficient, 4)],
        [t('observedThrough'), o.observedThrough ?? '–'],
      ].map(([k, v]) => `<tr><th>${esc(k!)}</th><td>${esc(v!)}</td></tr>`).join('')}</tbody></table>`,
  );
  const deciles = o.rows.filter((r) => r.dimension === 'score_decile');
  const decileFigure = deciles.length
    ? figure(id('deciles'), t('upliftByDecile'), barChart(id('deciles'), { categories: deciles.map((r) => r.dimension_value), percent: true, series: [{ name: t('absoluteLift'), values: deciles.map((r) => r.absolute_lift ?? 0) }] }),
        table([t('decile'), t('treatment'), t('control'), t('absoluteLift'), t('upliftAtK')], deciles.map((r) => [r.dimension_value, `${int(r.treatment_conversions)}/${int(r.treatment_contacts)}`, `${int(r.control_conversions)}/${int(r.control_contacts)}`, pct(r.absolute_lift), pct(r.uplift_at_k)]), 0)) +
      figure(id('qini'), t('qiniCurve'), lineChart(id('qini'), { categories: ['0', ...deciles.map((r) => r.dimension_value)], series: [{ name: t('qini'), values: [0, ...deciles.map((r) => r.qini)] }, { name: t('randomLine'), values: [0, ...deciles.map((_, i) => ((i + 1) / deciles.length) * (deciles.at(-1)?.qini ?? 0))], dashed: true }] }),
        table([t('decile'), t('qini')], deciles.map((r) => [r.dimension_value, dec(r.qini, 1)]), 0))
    : '';
  const breakdown = (dimension: 'segment' | 'channel', caption: MessageKey, label: (v: string) => string) => {
    const rows = o.rows.filter((r) => r.dimension === dimension);
    if (!rows.length) return '';
    return figure(
      id(dimension),
      t(caption),
      barChart(id(dimension), { categories: rows.map((r) => label(r.dimension_value)), percent: true, rotate: rows.length > 4 ? 20 : 0, series: [{ name: t('treatment'), values: rows.map((r) => r.treatment_rate ?? 0) }, { name: t('control'), values: rows.map((r) => r.control_rate ?? 0) }] }),
      breakdownTable(rows, label, tr),
    );
  };
  return head + rates + decileFigure + breakdown('segment', 'bySegment', segmentName) + breakdown('channel', 'byChannel', (v) => tr.value('channel', v));
}

function breakdownTable(rows: ResultRow[], label: (v: string) => string, { t }: Translator): string {
  return table(
    ['', t('treatment'), t('control'), t('absoluteLift'), t('ci95'), t('roi')],
    rows.map((r) => [label(r.dimension_value), `${pct(r.treatment_rate)} (${int(r.treatment_contacts)})`, `${pct(r.control_rate)} (${int(r.control_contacts)})`, pct(r.absolute_lift), ci(r.absolute_lift_newcombe_lo, r.absolute_lift_newcombe_hi), dec(r.roi, 2)]),
  );
}

function history(d: ReportData, tr: Translator): string {
  const { t } = tr;
  if (!d.history.length) return `<p>${esc(t('historyNone'))}</p>`;
  const names = new Map(d.campaigns.map((c) => [c.id, tr.name(c.name)]));
  return d.history
    .map((h) => {
      const id = `history-${h.campaignId}`;
      const chart = barLineChart(id, {
        categories: h.points.map((p) => p.asOf),
        bars: [{ name: t('treatment'), values: h.points.map((p) => p.treatment), stack: true }, { name: t('control'), values: h.points.map((p) => p.control), stack: true }],
        line: { name: t('liftFinal'), values: h.points.map((p) => p.absoluteLift), percent: true },
      });
      const rows = h.points.map((p) => [p.asOf, p.runId, int(p.treatment), int(p.control), p.status === 'final' ? pct(p.absoluteLift) : p.status === 'pending' ? t('pending') : '–']);
      return `<h3>${esc(names.get(h.campaignId) ?? h.campaignId)}</h3>${figure(id, t('historyContacts'), chart, table([t('runDate'), t('runId'), t('treatment'), t('control'), t('liftFinal')], rows, 2))}`;
    })
    .join('');
}

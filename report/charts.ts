import * as echarts from 'echarts';

/**
 * Chart builders: ECharts options rendered to SVG on the server (SSR, no DOM, no animation), so the report needs no
 * script and no network to show them. Each builder takes already-aggregated numbers and translated labels.
 */
export const CHART_WIDTH = 680;
const FONT = "'Noto Sans CJK SC', 'WenQuanYi Micro Hei', 'Microsoft YaHei', 'PingFang SC', 'Helvetica Neue', Arial, sans-serif";
const COLORS = ['#1f5fa8', '#e8833a', '#3b9a5a', '#c8463d', '#7d5ba6', '#8c6d31', '#d36fa8', '#6b6b6b', '#2aa1b3', '#b5b83b'];
const TREATMENT = COLORS[0]!;
const CONTROL = COLORS[1]!;

/**
 * Renders one option to an SVG string. zrender numbers its element ids per instance in the process; they are
 * replaced by the chart's own id so a page's SVG is the same whichever charts the process drew before.
 */
export function renderSvg(id: string, option: echarts.EChartsOption, height = 300, width = CHART_WIDTH): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ animation: false, color: COLORS, textStyle: { fontFamily: FONT }, ...option });
    const svg = chart.renderToSVGString();
    const safe = id.replace(/[^a-zA-Z0-9_-]/g, '_');
    // Style classes are numbered by a process-wide counter too: renumber them in order of appearance.
    const classes = new Map<string, number>();
    return svg
      .replace(/zr\d+-/g, `${safe}-`)
      .replace(/-cls-(\d+)/g, (_, n: string) => `-cls-${classes.get(n) ?? classes.set(n, classes.size).get(n)!}`)
      .replace('<svg ', `<svg role="img" aria-label="${escapeAttr(id)}" `);
  } finally {
    chart.dispose();
  }
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

const grid = (extra: Record<string, unknown> = {}) => ({ left: 56, right: 24, top: 40, bottom: 40, containLabel: true, ...extra });
const legend = (data: string[]) => ({ top: 4, data, textStyle: { fontFamily: FONT } });
const pctAxis = { type: 'value' as const, axisLabel: { formatter: (v: number) => `${Math.round(v * 1000) / 10}%` } };

/** Vertical or horizontal bars of one or more series over categories; `stack` stacks them. */
export function barChart(id: string, opts: { categories: string[]; series: { name: string; values: number[]; color?: string }[]; horizontal?: boolean; stack?: boolean; percent?: boolean; height?: number; rotate?: number }): string {
  const category = { type: 'category' as const, data: opts.categories, axisLabel: { interval: 0, rotate: opts.rotate ?? 0 }, inverse: !!opts.horizontal };
  const value = opts.percent ? pctAxis : { type: 'value' as const };
  const stackMax = Math.max(1, ...opts.categories.map((_, i) => opts.series.reduce((n, s) => n + (s.values[i] ?? 0), 0)));
  return renderSvg(
    id,
    {
      legend: opts.series.length > 1 ? legend(opts.series.map((s) => s.name)) : undefined,
      grid: grid(opts.horizontal ? { right: 48 } : {}),
      xAxis: opts.horizontal ? value : category,
      yAxis: opts.horizontal ? category : value,
      series: opts.series.map((s) => ({
        type: 'bar' as const, name: s.name, data: s.values, stack: opts.stack ? 'all' : undefined, itemStyle: s.color ? { color: s.color } : undefined,
        label: {
          show: opts.categories.length * opts.series.length <= 24, position: opts.stack ? ('inside' as const) : opts.horizontal ? ('right' as const) : ('top' as const), fontSize: 10,
          // Inside a stack, a label wider than its segment would cover the next one: small segments stay unlabelled (the table has them).
          formatter: (p: { value: unknown }) => (opts.stack && Number(p.value) < 0.06 * stackMax ? '' : opts.percent ? `${(Number(p.value) * 100).toFixed(1)}%` : Number.isInteger(Number(p.value)) ? fmtInt(Number(p.value)) : Number(p.value).toFixed(2)),
        },
      })),
    },
    Math.max(160, opts.height ?? 300),
  );
}

/** Heat map of counts over two integer axes (RFM R × F). */
export function heatmapChart(id: string, opts: { xName: string; yName: string; xs: number[]; ys: number[]; cells: { x: number; y: number; value: number }[] }): string {
  const max = Math.max(1, ...opts.cells.map((c) => c.value));
  return renderSvg(
    id,
    {
      grid: grid({ bottom: 70, right: 40 }),
      xAxis: { type: 'category', data: opts.xs.map(String), name: opts.xName, nameLocation: 'middle', nameGap: 28 },
      yAxis: { type: 'category', data: opts.ys.map(String), name: opts.yName, nameLocation: 'middle', nameGap: 36 },
      visualMap: { min: 0, max, text: [fmtInt(max), '0'], calculable: false, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 200, inRange: { color: ['#f3f7fc', '#9fc2e7', '#1f5fa8'] } },
      series: [{ type: 'heatmap', data: opts.cells.map((c) => [opts.xs.indexOf(c.x), opts.ys.indexOf(c.y), c.value]), label: { show: true, fontSize: 10 } }],
    },
    340,
  );
}

/** Lines on value axes, e.g. an ROC or calibration curve, with an optional dashed diagonal reference. */
export function curveChart(id: string, opts: { xName: string; yName: string; series: { name: string; points: [number, number][]; dashed?: boolean; symbols?: boolean }[]; max?: number }): string {
  return renderSvg(
    id,
    {
      legend: legend(opts.series.map((s) => s.name)),
      grid: grid({ bottom: 50 }),
      xAxis: { type: 'value', min: 0, max: opts.max, name: opts.xName, nameLocation: 'middle', nameGap: 28 },
      yAxis: { type: 'value', min: 0, max: opts.max, name: opts.yName, nameLocation: 'middle', nameGap: 40 },
      series: opts.series.map((s, i) => ({
        type: 'line' as const, name: s.name, data: s.points, showSymbol: !!s.symbols, symbolSize: 6,
        lineStyle: s.dashed ? { type: 'dashed' as const, color: '#999', width: 1 } : { width: 2, color: COLORS[i % COLORS.length] },
        itemStyle: s.dashed ? { color: '#999' } : { color: COLORS[i % COLORS.length] },
      })),
    },
    320,
  );
}

/** Bars with a line on a second axis (lift by decile with cumulative capture; contacts per run with lift). */
export function barLineChart(id: string, opts: { categories: string[]; bars: { name: string; values: (number | null)[]; stack?: boolean }[]; line: { name: string; values: (number | null)[]; percent?: boolean }; barPercent?: boolean }): string {
  return renderSvg(
    id,
    {
      legend: legend([...opts.bars.map((b) => b.name), opts.line.name]),
      grid: grid({ right: 56 }),
      xAxis: { type: 'category', data: opts.categories, axisLabel: { interval: opts.categories.length > 12 ? 'auto' : 0, rotate: opts.categories.length > 8 ? 30 : 0 } },
      yAxis: [opts.barPercent ? pctAxis : { type: 'value' }, opts.line.percent ? { ...pctAxis, splitLine: { show: false } } : { type: 'value', splitLine: { show: false } }],
      series: [
        ...opts.bars.map((b) => ({ type: 'bar' as const, name: b.name, data: b.values, stack: b.stack ? 'bars' : undefined })),
        { type: 'line' as const, name: opts.line.name, data: opts.line.values, yAxisIndex: 1, connectNulls: false, symbolSize: 6 },
      ],
    },
    300,
  );
}

/** A funnel (stages in the given order, widths by count). */
export function funnelChart(id: string, stages: { name: string; value: number }[]): string {
  const max = Math.max(1, ...stages.map((s) => s.value));
  return renderSvg(
    id,
    {
      series: [{
        type: 'funnel', sort: 'none', left: 40, right: 200, top: 16, bottom: 16, min: 0, max, minSize: '4%', gap: 3,
        label: { show: true, position: 'right', formatter: (p: { name: string; value: unknown }) => `${p.name}  ${fmtInt(Number(p.value))}`, fontSize: 12 },
        labelLine: { show: true },
        data: stages.map((s) => ({ name: s.name, value: s.value })),
      }],
    },
    260,
  );
}

/** Waterfall: a start total, then each step subtracted, then the end total (invisible bases under floating bars). */
export function waterfallChart(id: string, opts: { start: { name: string; value: number }; steps: { name: string; value: number }[]; end: { name: string; value: number }; excludedName: string; remainingName: string }): string {
  const categories = [opts.start.name, ...opts.steps.map((s) => s.name), opts.end.name];
  const base: number[] = [0];
  const drop: (number | null)[] = [null];
  const total: (number | null)[] = [opts.start.value];
  let remaining = opts.start.value;
  for (const s of opts.steps) {
    remaining -= s.value;
    base.push(remaining);
    drop.push(s.value);
    total.push(null);
  }
  base.push(0);
  drop.push(null);
  total.push(opts.end.value);
  return renderSvg(
    id,
    {
      legend: legend([opts.remainingName, opts.excludedName]),
      grid: grid({ bottom: 90 }),
      xAxis: { type: 'category', data: categories, axisLabel: { interval: 0, rotate: 35, fontSize: 10 } },
      yAxis: { type: 'value' },
      series: [
        { type: 'bar', stack: 'w', data: base, itemStyle: { color: 'transparent' }, silent: true, name: '' },
        { type: 'bar', stack: 'w', name: opts.remainingName, data: total, itemStyle: { color: TREATMENT }, label: { show: true, position: 'top', fontSize: 10, formatter: intLabel } },
        { type: 'bar', stack: 'w', name: opts.excludedName, data: drop, itemStyle: { color: '#c8463d' }, label: { show: true, position: 'top', fontSize: 10, formatter: intLabel } },
      ],
    },
    340,
  );
}

/** Rates per category with 95% interval error bars (a custom series draws each bar's whiskers). */
export function rateErrorBarChart(id: string, opts: { categories: string[]; rates: (number | null)[]; intervals: ([number, number] | null)[]; colors?: string[] }): string {
  const colors = opts.colors ?? [TREATMENT, CONTROL];
  return renderSvg(
    id,
    {
      grid: grid(),
      xAxis: { type: 'category', data: opts.categories },
      yAxis: pctAxis,
      series: [
        {
          type: 'bar', barWidth: '40%',
          data: opts.rates.map((r, i) => ({ value: r, itemStyle: { color: colors[i % colors.length] } })),
          label: { show: true, position: 'insideBottom', color: '#fff', fontSize: 11, formatter: (p: { value: unknown }) => (p.value === null ? '' : `${(Number(p.value) * 100).toFixed(2)}%`) },
        },
        {
          type: 'custom', name: 'ci', z: 10,
          data: opts.intervals.map((iv, i) => (iv ? [i, iv[0], iv[1]] : [i, null, null])),
          renderItem: (_params, api) => {
            const lo = api.value(1);
            const hi = api.value(2);
            if (lo === null || hi === null || lo === '' || hi === '' || Number.isNaN(Number(lo)) || Number.isNaN(Number(hi))) return null;
            const x = Number(api.value(0));
            const top = api.coord([x, Number(hi)]) as [number, number];
            const bottom = api.coord([x, Number(lo)]) as [number, number];
            const half = (api.size!([1, 0]) as number[])[0]! * 0.08;
            const style = { stroke: '#222', lineWidth: 1.5 };
            return {
              type: 'group',
              children: [
                { type: 'line', shape: { x1: top[0], y1: top[1], x2: bottom[0], y2: bottom[1] }, style },
                { type: 'line', shape: { x1: top[0] - half, y1: top[1], x2: top[0] + half, y2: top[1] }, style },
                { type: 'line', shape: { x1: bottom[0] - half, y1: bottom[1], x2: bottom[0] + half, y2: bottom[1] }, style },
              ],
            };
          },
        } as echarts.CustomSeriesOption,
      ],
    },
    300,
  );
}

/** A line over categories (Qini curve), starting at the origin category. */
export function lineChart(id: string, opts: { categories: string[]; series: { name: string; values: (number | null)[]; dashed?: boolean }[]; yName?: string }): string {
  return renderSvg(
    id,
    {
      legend: legend(opts.series.map((s) => s.name)),
      grid: grid(),
      xAxis: { type: 'category', data: opts.categories, boundaryGap: false },
      yAxis: { type: 'value', name: opts.yName },
      series: opts.series.map((s) => ({ type: 'line' as const, name: s.name, data: s.values, symbolSize: 6, lineStyle: s.dashed ? { type: 'dashed' as const, color: '#999' } : undefined, itemStyle: s.dashed ? { color: '#999' } : undefined })),
    },
    300,
  );
}

const intLabel = (p: { value: unknown }) => (p.value === null || p.value === undefined ? '' : fmtInt(Number(p.value)));

export function fmtInt(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

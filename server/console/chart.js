// A dependency-free SVG line chart: home readings as lines with dots, values
// measured at a clinic as hollow diamonds (never joined to the home line), and
// the same numbers in a table for screen readers and keyboard users.

import { h, fmtDate, fmtDateTime, fmtMonthDay, round } from './ui.js';

const W = 760;
const H = 280;
const PAD = { left: 48, right: 16, top: 16, bottom: 32 };
const DAY = 86_400_000;

/**
 * series: [{label, source: 'home'|'clinic', tone: 0|1, points: [{t: ms, v: number}]}]
 * from/to: ms. Returns a <figure> with the chart, its legend and a data table.
 */
export function lineChart({ title, unit, series, from, to }) {
  const values = series.flatMap((s) => s.points.map((p) => p.v));
  const figure = h('figure', { class: 'chart' });
  const caption = h('figcaption', {}, `${title}（${unit}）`);
  if (values.length === 0) {
    figure.append(caption, h('p', { class: 'empty' }, 'この期間の測定値はありません。'));
    return figure;
  }
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const margin = Math.max((hi - lo) * 0.1, 1);
  lo = Math.floor(lo - margin);
  hi = Math.ceil(hi + margin);
  const x = (t) => PAD.left + ((t - from) / (to - from)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - ((v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);

  const svg = h('svg:svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': `${title}のグラフ。${series.map((s) => `${s.label} ${s.points.length}件`).join('、')}`,
    class: 'chart-svg',
  });
  // Horizontal grid with values, and dates along the bottom.
  for (const v of ticks(lo, hi, 5)) {
    svg.append(
      h('svg:line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: 'grid' }),
      h('svg:text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, String(v)),
    );
  }
  const span = (to - from) / DAY;
  const step = span <= 31 ? 7 : span <= 92 ? 14 : 61;
  for (let t = from; t <= to; t += step * DAY) {
    svg.append(h('svg:text', { x: x(t), y: H - 10, 'text-anchor': 'middle', class: 'tick' }, fmtMonthDay(t)));
  }
  for (const s of series) {
    const cls = `series tone-${s.tone}`;
    if (s.source === 'home') {
      if (s.points.length > 1) {
        const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join('');
        svg.append(h('svg:path', { d, class: `${cls} line` }));
      }
      for (const p of s.points) svg.append(h('svg:circle', { cx: x(p.t), cy: y(p.v), r: 3, class: `${cls} dot` }));
    } else {
      for (const p of s.points) {
        const cx = x(p.t);
        const cy = y(p.v);
        svg.append(
          h('svg:path', { d: `M${cx},${cy - 6}L${cx + 6},${cy}L${cx},${cy + 6}L${cx - 6},${cy}Z`, class: `${cls} clinic` }),
        );
      }
    }
  }
  const legend = h(
    'ul',
    { class: 'legend' },
    series.map((s) =>
      h('li', {}, h('span', { class: `swatch tone-${s.tone} ${s.source}`, 'aria-hidden': 'true' }), s.label),
    ),
  );
  const rows = series.flatMap((s) =>
    s.points.map((p) =>
      h('tr', {}, h('td', {}, s.source === 'home' ? fmtDate(p.label || p.t) : fmtDateTime(p.t)), h('td', {}, s.label), h('td', { class: 'num' }, round(p.v))),
    ),
  );
  const table = h(
    'details',
    { class: 'chart-data' },
    h('summary', {}, '数値で見る'),
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, '日付'), h('th', { scope: 'col' }, '系列'), h('th', { scope: 'col' }, `値（${unit}）`))),
      h('tbody', {}, rows),
    ),
  );
  figure.append(caption, svg, legend, table);
  return figure;
}

function ticks(lo, hi, n) {
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(round(v));
  return out;
}

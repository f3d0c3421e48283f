// The public-health nurse: programmes, the residents table and a resident's page.
// Everything comes from the public API under the nurse's own grants.

import { api, all } from './api.js';
import {
  h, fill, section, guarded, announce, fmtDate, fmtDateTime, fmtObservation, kindLabel, todayJst,
} from './ui.js';
import { lineChart } from './chart.js';

export async function programmes({ main, org, crumbs }) {
  crumbs({ label: 'プログラム' });
  const { items } = await api('GET', `/v1/orgs/${org.orgId}/programs`);
  fill(
    main,
    section(
      `${org.name}のプログラム`,
      items.length === 0
        ? h('p', { class: 'empty' }, 'プログラムはまだありません。')
        : h('ul', { class: 'choices' }, items.map((p) =>
          h('li', {}, h('a', { class: 'choice', href: `#/org/${org.orgId}/program/${p.programId}` },
            h('strong', {}, p.name), h('span', {}, p.description || ''))))),
    ),
  );
}

const COLUMNS = [
  { key: 'name', label: '氏名', value: (r) => r.displayName },
  { key: 'latest', label: '最新の測定値', value: null },
  { key: 'lastUpload', label: '最終アップロード', value: (r) => r.lastUpload || '' },
  { key: 'alerts', label: '未対応アラート', value: (r) => r.openAlerts.length },
];

export async function residents({ main, org, crumbs }, programId) {
  const { items: programs } = await api('GET', `/v1/orgs/${org.orgId}/programs`);
  const program = programs.find((p) => p.programId === programId);
  crumbs({ label: 'プログラム', href: `#/org/${org.orgId}/nurse` }, { label: program?.name || 'プログラム' });
  const state = { alertsOnly: sessionStorage.getItem('phr.console.alertsOnly') === '1', sort: 'lastUpload', dir: 'desc' };
  let rows = [];
  const tableArea = h('div', { class: 'table-wrap' });
  const count = h('p', { class: 'hint', 'aria-live': 'polite' });
  const filter = h('input', { type: 'checkbox', id: 'alerts-only', checked: state.alertsOnly });
  filter.addEventListener('change', async () => {
    state.alertsOnly = filter.checked;
    sessionStorage.setItem('phr.console.alertsOnly', state.alertsOnly ? '1' : '0');
    await load();
  });

  async function load() {
    const q = state.alertsOnly ? '&alert=open' : '';
    tableArea.replaceChildren();
    const got = await guarded(tableArea, () =>
      all(`/v1/orgs/${org.orgId}/programs/${programId}/residents?limit=500&sort=lastUpload${q}`));
    if (!got) return;
    rows = got;
    render();
  }

  function render() {
    const col = COLUMNS.find((c) => c.key === state.sort);
    const sorted = [...rows].sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      const c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y), 'ja');
      return state.dir === 'asc' ? c : -c;
    });
    count.textContent = `${sorted.length}人${state.alertsOnly ? '（未対応アラートのある方のみ）' : ''}`;
    const head = h('tr', {}, COLUMNS.map((c) => {
      if (!c.value) return h('th', { scope: 'col' }, c.label);
      const active = state.sort === c.key;
      return h('th', { scope: 'col', 'aria-sort': active ? (state.dir === 'asc' ? 'ascending' : 'descending') : 'none' },
        h('button', {
          type: 'button',
          class: 'sort',
          onclick: () => {
            state.dir = active && state.dir === 'desc' ? 'asc' : active ? 'desc' : c.key === 'name' ? 'asc' : 'desc';
            state.sort = c.key;
            render();
            tableArea.querySelector(`th[aria-sort]:not([aria-sort="none"]) button`)?.focus();
          },
        }, c.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (state.dir === 'asc' ? '▲' : '▼') : '↕')));
    }));
    const body = sorted.map((r) => h('tr', { class: r.openAlerts.length ? 'has-alert' : '' },
      h('th', { scope: 'row' }, h('a', { href: `#/org/${org.orgId}/program/${programId}/resident/${r.personId}` }, r.displayName)),
      h('td', {}, r.latest.length
        ? h('ul', { class: 'inline' }, r.latest.map((o) => h('li', {}, `${kindLabel(o.kind)} ${fmtObservation(o)}`)))
        : '—'),
      h('td', {}, fmtDateTime(r.lastUpload)),
      h('td', { class: 'num' }, r.openAlerts.length
        ? h('span', { class: 'badge alert' }, `${r.openAlerts.length}件`) : '0'),
    ));
    fill(tableArea, sorted.length === 0
      ? h('p', { class: 'empty' }, state.alertsOnly ? '未対応アラートのある方はいません。' : '参加者はまだいません。')
      : h('table', { class: 'residents' },
        h('caption', { class: 'visually-hidden' }, '参加者一覧。列見出しのボタンで並べ替えできます。'),
        h('thead', {}, head), h('tbody', {}, body)));
  }

  fill(main, section(
    `参加者 — ${program?.name || ''}`,
    h('div', { class: 'toolbar' }, h('span', { class: 'check' }, filter, h('label', { for: 'alerts-only' }, 'アラートのみ表示'))),
    count,
    tableArea,
  ));
  await load();
}

const CHART_KINDS = [
  { kind: 'blood_pressure', label: '血圧', unit: 'mmHg', components: [['systolic', '収縮期'], ['diastolic', '拡張期']] },
  { kind: 'body_weight', label: '体重', unit: 'kg' },
  { kind: 'blood_glucose', label: '血糖', unit: 'mg/dL' },
];

export async function resident({ main, org, crumbs }, programId, personId) {
  const person = await api('GET', `/v1/persons/${personId}`);
  crumbs({ label: 'プログラム', href: `#/org/${org.orgId}/nurse` },
    { label: '参加者', href: `#/org/${org.orgId}/program/${programId}` }, { label: person.displayName });
  const can = (c) => person.read.includes(c);
  const alertsBox = h('div');
  const chartBox = h('div', { class: 'chart-box' });
  const medsBox = h('div');
  const labsBox = h('div');
  const notesBox = h('div');
  const chart = { kind: 'blood_pressure', days: 30 };

  const kindPicker = h('fieldset', { class: 'segmented' }, h('legend', {}, '項目'),
    CHART_KINDS.map((k) => radio('chart-kind', k.kind, k.label, chart.kind === k.kind, (v) => { chart.kind = v; drawChart(); })));
  const rangePicker = h('fieldset', { class: 'segmented' }, h('legend', {}, '期間'),
    [30, 90, 365].map((d) => radio('chart-days', String(d), `${d}日`, chart.days === d, (v) => { chart.days = Number(v); drawChart(); })));

  async function drawChart() {
    chartBox.replaceChildren(h('p', { class: 'hint' }, '読み込み中…'));
    const spec = CHART_KINDS.find((k) => k.kind === chart.kind);
    const to = Date.now();
    const from = to - chart.days * 86_400_000;
    const fromDate = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Tokyo' }).format(new Date(from));
    const bucket = chart.days > 120 ? 'week' : 'day';
    const s = await guarded(chartBox, () => api('GET',
      `/v1/persons/${personId}/observations/summary?kind=${spec.kind}&bucket=${bucket}&from=${fromDate}&tz=Asia%2FTokyo`));
    if (!s) return;
    const series = [];
    const comps = spec.components || [[null, spec.label]];
    comps.forEach(([c, label], tone) => {
      const home = s.buckets
        .map((b) => ({ t: Date.parse(b.start), v: c ? b.components?.[c]?.mean : b.mean, label: b.start.slice(0, 10) }))
        .filter((p) => typeof p.v === 'number');
      series.push({ label: `${label}（家庭${bucket === 'week' ? '・週平均' : '・日平均'}）`, source: 'home', tone, points: home });
      const clinic = s.clinic
        .filter((v) => (c ? v.component === c : !v.component) && v.observedAt)
        .map((v) => ({ t: Date.parse(v.observedAt), v: v.value }));
      if (clinic.length || can('labs')) series.push({ label: `${label}（医療機関で測定）`, source: 'clinic', tone, points: clinic });
    });
    fill(chartBox, lineChart({ title: `${spec.label}・${chart.days}日`, unit: spec.unit, series, from, to }));
  }

  async function loadAlerts() {
    alertsBox.replaceChildren();
    const list = await guarded(alertsBox, () => all('/v1/alerts?status=open&limit=500'));
    if (!list) return;
    const mine = list.filter((a) => a.personId === personId);
    if (mine.length === 0) {
      alertsBox.append(h('p', { class: 'empty' }, '未対応のアラートはありません。'));
      return;
    }
    alertsBox.append(h('ul', { class: 'alerts' }, mine.map((a) => h('li', {},
      h('span', { class: 'badge alert' }, 'アラート'), ' ',
      `${kindLabel(a.kind)} ${a.value}（${a.source === 'lab_result' ? '医療機関で測定' : '家庭で測定'}） ${fmtDateTime(a.createdAt)}`, ' ',
      h('button', {
        type: 'button',
        onclick: async (ev) => {
          ev.target.disabled = true;
          const ok = await guarded(alertsBox, () => api('POST', `/v1/alerts/${a.alertId}/ack`));
          if (ok) announce('アラートを確認済みにしました。');
          await loadAlerts();
        },
      }, '確認済みにする')))));
  }

  async function loadMeds() {
    if (!can('medications')) return fill(medsBox, h('p', { class: 'empty' }, 'お薬の閲覧は許可されていません。'));
    const cur = await guarded(medsBox, () => api('GET', `/v1/persons/${personId}/medications/current?date=${todayJst()}`));
    if (cur) fill(medsBox, medicationList(cur));
  }

  async function loadLabs() {
    if (!can('labs')) return fill(labsBox, h('p', { class: 'empty' }, '検査結果の閲覧は許可されていません。'));
    const labs = await guarded(labsBox, () => api('GET', `/v1/persons/${personId}/labs`));
    if (!labs) return;
    if (labs.items.length === 0) return fill(labsBox, h('p', { class: 'empty' }, '検査結果はありません。'));
    const codes = [...new Map(labs.items.map((l) => [l.code, l.name])).entries()];
    const seriesBox = h('div');
    const picker = h('select', { id: 'lab-code' }, codes.map(([code, name]) => h('option', { value: code }, `${name}（${code}）`)));
    const show = async () => {
      seriesBox.replaceChildren();
      const s = await guarded(seriesBox, () => api('GET', `/v1/persons/${personId}/labs/${encodeURIComponent(picker.value)}/series`));
      if (!s) return;
      fill(seriesBox, h('table', {},
        h('thead', {}, h('tr', {}, ['日時', '値', '単位', '基準範囲', 'フラグ'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, s.points.map((p) => h('tr', {},
          h('td', {}, fmtDateTime(p.observedAt)), h('td', { class: 'num' }, p.value), h('td', {}, p.unit || ''),
          h('td', {}, p.referenceLow ?? '', '–', p.referenceHigh ?? ''), h('td', {}, p.flags.join(' ')))))));
    };
    picker.addEventListener('change', show);
    fill(labsBox, h('label', { for: 'lab-code' }, '検査項目'), picker, seriesBox);
    await show();
  }

  async function loadNotes() {
    const list = h('div');
    const text = h('textarea', { id: 'note-text', rows: 4, required: true, maxlength: 4000 });
    const error = h('div');
    const form = h('form', { class: 'note-form' },
      h('label', { for: 'note-text' }, '保健指導メモを書く（ご本人にも表示されます）'), text, error,
      h('button', { type: 'submit', class: 'primary' }, 'メモを保存'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.replaceChildren();
      const body = { text: text.value, category: 'guidance' };
      const saved = await guarded(error, () => api('POST', `/v1/persons/${personId}/notes`, body));
      if (saved) {
        text.value = '';
        announce('メモを保存しました。');
        await refresh();
      }
    });
    async function refresh() {
      list.replaceChildren();
      const notes = await guarded(list, () => api('GET', `/v1/persons/${personId}/notes`));
      if (!notes) return;
      fill(list, notes.items.length === 0 ? h('p', { class: 'empty' }, 'メモはまだありません。')
        : h('ul', { class: 'notes' }, notes.items.map((n) => h('li', {},
          h('p', { class: 'meta' }, fmtDateTime(n.createdAt), ' ', n.category === 'guidance' ? '保健指導' : '日記'),
          h('p', { class: 'note-text' }, n.text)))));
    }
    fill(notesBox, form, list);
    await refresh();
  }

  fill(main,
    h('h2', { class: 'page-title' }, person.displayName,
      h('span', { class: 'sub' }, [person.birthDate ? `生年月日 ${fmtDate(person.birthDate)}` : null].filter(Boolean).join(' '))),
    section('未対応アラート', alertsBox),
    section('測定値の推移', h('div', { class: 'toolbar' }, kindPicker, rangePicker), chartBox),
    h('div', { class: 'columns' }, section('服用中のお薬', medsBox), section('検査結果', labsBox)),
    section('メモ', notesBox));
  await Promise.all([loadAlerts(), drawChart(), loadMeds(), loadLabs(), loadNotes()]);
}

function radio(name, value, label, checked, onchange) {
  const id = `${name}-${value}`;
  const input = h('input', { type: 'radio', name, id, value, checked });
  input.addEventListener('change', () => input.checked && onchange(value));
  return h('span', { class: 'radio' }, input, h('label', { for: id }, label));
}

/** The current medications, grouped as the API answers them. */
export function medicationList(cur) {
  const groups = [['regular', '定期'], ['asNeeded', '頓服'], ['external', '外用']];
  const any = groups.some(([k]) => cur[k].length);
  if (!any) return h('p', { class: 'empty' }, `${fmtDate(cur.date)} 時点で服用中のお薬はありません。`);
  return h('table', { class: 'meds' },
    h('thead', {}, h('tr', {}, ['区分', '薬品名', '用量', '用法', '調剤日', '薬局'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, groups.flatMap(([k, label]) => cur[k].map((d) => h('tr', {},
      h('td', {}, label), h('th', { scope: 'row' }, d.name), h('td', {}, [d.amount, d.unit].filter(Boolean).join(' ')),
      h('td', {}, d.usage || ''), h('td', {}, fmtDate(d.dispensedOn)), h('td', {}, d.pharmacy || ''))))));
}

// Small DOM helpers, Japanese labels and JST formatting shared by the views.

/** h('button', {type: 'submit', onclick}, 'text', child…): an element, never innerHTML. */
export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const TZ = 'Asia/Tokyo';
const dateTime = new Intl.DateTimeFormat('ja-JP', {
  timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
});
const dateOnly = new Intl.DateTimeFormat('ja-JP', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' });
const monthDay = new Intl.DateTimeFormat('ja-JP', { timeZone: TZ, month: 'numeric', day: 'numeric' });

/** An instant in JST, e.g. 2026/01/06 07:30. */
export function fmtDateTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

/** A date in JST; a plain `YYYY-MM-DD` is already a calendar date and is shown as is. */
export function fmtDate(value) {
  if (!value) return '—';
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value.replaceAll('-', '/');
  return dateOnly.format(new Date(value));
}

export function fmtMonthDay(ms) {
  return monthDay.format(new Date(ms));
}

/** Today's date in JST as `YYYY-MM-DD`. */
export function todayJst() {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: TZ }).format(new Date());
}

export const KIND_LABELS = {
  blood_pressure: '血圧',
  body_weight: '体重',
  blood_glucose: '血糖',
  heart_rate: '脈拍',
  body_temperature: '体温',
  hba1c: 'HbA1c',
  steps: '歩数',
  spo2: 'SpO2',
  bmi: 'BMI',
};

export const ROLE_LABELS = { nurse: '保健師・看護師', pharmacist: '薬剤師', admin: '管理者', clinician: '医師' };

export function kindLabel(kind) {
  return KIND_LABELS[kind] || kind;
}

/** One observation's value as shown in tables: `150/95 mmHg`, `62.5 kg`. */
export function fmtObservation(o) {
  const unit = (u) => (u || '').replace('mm[Hg]', 'mmHg').replace('mg/dL', 'mg/dL');
  if (o.components) {
    const s = o.components.systolic;
    const d = o.components.diastolic;
    if (s && d) return `${round(s.value)}/${round(d.value)} ${unit(s.unit)}`;
    return Object.entries(o.components).map(([k, q]) => `${k} ${round(q.value)}`).join(' ');
  }
  if (o.value !== null && o.value !== undefined) return `${round(o.value)} ${unit(o.unit)}`.trim();
  return o.text || '—';
}

export function round(v) {
  return Math.round(v * 10) / 10;
}

/** Announces a message to screen readers and shows it in the status bar. */
export function announce(message, kind = 'info') {
  const el = document.getElementById('status');
  if (!el) return;
  el.textContent = message;
  el.dataset.kind = kind;
}

/** The problem's detail with the refused fields, in a form next to where it happened. */
export function problemBox(err) {
  const box = h('div', { class: 'problem', role: 'alert' }, h('p', {}, err.message || String(err)));
  if (err.errors?.length) {
    box.append(h('ul', {}, err.errors.map((e) => h('li', {}, h('code', {}, e.path), ': ', e.message))));
  }
  return box;
}

/** Replaces the contents of `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  for (const c of children.flat(Infinity)) if (c) el.append(c);
  return el;
}

/** A titled section with a heading level the page outline expects. */
export function section(title, ...children) {
  const id = `s-${Math.random().toString(36).slice(2, 8)}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

/** Runs `work`, showing a problem in `where` instead of throwing. */
export async function guarded(where, work) {
  try {
    return await work();
  } catch (err) {
    if (where) where.append(problemBox(err));
    announce(err.message || String(err), 'error');
    return undefined;
  }
}

// The pharmacy counter: redeem the patient's share code, read the receipt's
// お薬手帳 QR symbols (a handheld scanner types them, or paste), preview what the
// server parsed, then save. The JAHIS parsing is the server's, never redone here.

import { api } from './api.js';
import { h, fill, section, guarded, announce, fmtDate, fmtDateTime } from './ui.js';
import { medicationList } from './nurse.js';

const PATIENT_KEY = 'phr.console.patient';

/**
 * The symbols in the text area. A scanner in keyboard mode types each symbol
 * and Enter, and the records inside a symbol are lines too; every JAHIS symbol
 * (a 911 split part included) starts with its `JAHISTC` header line, so a new
 * symbol begins at each such line and other lines belong to the one before.
 */
export function symbols(text) {
  const out = [];
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (line.trim() === '') continue;
    if (/^\s*JAHIS/i.test(line) || out.length === 0) out.push(line.trimStart());
    else out[out.length - 1] += `\n${line}`;
  }
  return out.map((s) => `${s}\n`);
}

export async function counter({ main, org, crumbs }) {
  crumbs({ label: '薬局カウンター' });
  const patientArea = h('div');
  const codeError = h('div');
  const code = h('input', {
    id: 'share-code', name: 'code', autocomplete: 'off', required: true, inputmode: 'text', spellcheck: 'false',
    'aria-describedby': 'share-code-hint',
  });
  const redeem = h('form', { class: 'inline-form' },
    h('label', { for: 'share-code' }, '共有コード'),
    h('p', { id: 'share-code-hint', class: 'hint' }, '患者さんのアプリに表示されたコードを入力するか、スキャナで読み取ってください。'),
    h('div', { class: 'row' }, code, h('button', { type: 'submit', class: 'primary' }, '受け付ける')),
    codeError);
  redeem.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    codeError.replaceChildren();
    const g = await guarded(codeError, () => api('POST', '/v1/share-codes/redeem', { code: code.value.trim() }));
    if (!g) {
      code.select();
      return;
    }
    code.value = '';
    sessionStorage.setItem(PATIENT_KEY, JSON.stringify({ orgId: org.orgId, personId: g.personId, expiresAt: g.expiresAt }));
    announce('共有コードを受け付けました。');
    await showPatient(g.personId, g.expiresAt);
  });

  async function showPatient(personId, expiresAt) {
    const person = await guarded(patientArea, () => api('GET', `/v1/persons/${personId}`));
    if (!person) {
      sessionStorage.removeItem(PATIENT_KEY);
      return;
    }
    const medsBox = h('div');
    const allergyBox = h('div');
    const loadRecord = async () => {
      const [cur, facts] = await Promise.all([
        person.read.includes('medications')
          ? guarded(medsBox, () => api('GET', `/v1/persons/${personId}/medications/current`)) : null,
        person.read.includes('allergies') || person.read.includes('medications')
          ? guarded(allergyBox, () => api('GET', `/v1/persons/${personId}/facts`)) : null,
      ]);
      if (cur) fill(medsBox, medicationList(cur));
      else if (!person.read.includes('medications')) fill(medsBox, h('p', { class: 'empty' }, 'お薬の閲覧は共有されていません。'));
      const allergies = (facts?.items || []).filter((f) => f.category === 'allergies');
      fill(allergyBox, !person.read.includes('allergies')
        ? h('p', { class: 'empty' }, 'アレルギー情報は共有されていません。')
        : allergies.length === 0 ? h('p', { class: 'empty' }, '登録されたアレルギー・副作用歴はありません。')
          : h('ul', { class: 'allergies' }, allergies.map((f) =>
            h('li', {}, h('span', { class: 'badge warn' }, f.kind === 'side_effect' ? '副作用' : 'アレルギー'), ' ', f.text))));
    };
    fill(patientArea,
      h('h2', { class: 'page-title' }, person.displayName,
        h('span', { class: 'sub' }, `共有の有効期限 ${fmtDateTime(expiresAt)}`)),
      h('p', {}, h('button', {
          type: 'button', class: 'link',
          onclick: () => {
            sessionStorage.removeItem(PATIENT_KEY);
            patientArea.replaceChildren();
            code.focus();
          },
        }, '次の患者さんへ')),
      h('div', { class: 'columns' }, section('服用中のお薬', medsBox), section('アレルギー・副作用歴', allergyBox)),
      person.write.includes('medications')
        ? scanner(personId, loadRecord)
        : section('お薬手帳QR', h('p', { class: 'empty' }, 'お薬の書き込みは共有されていません。')));
    await loadRecord();
    patientArea.querySelector('#qr-text')?.focus();
  }

  fill(main, section(`${org.name} — 共有コードの受付`, redeem), patientArea);
  const saved = JSON.parse(sessionStorage.getItem(PATIENT_KEY) || 'null');
  if (saved && saved.orgId === org.orgId && Date.parse(saved.expiresAt) > Date.now()) {
    await showPatient(saved.personId, saved.expiresAt);
  } else {
    code.focus();
  }
}

function scanner(personId, afterSave) {
  const text = h('textarea', {
    id: 'qr-text', rows: 8, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'qr-hint',
  });
  const count = h('p', { class: 'hint', 'aria-live': 'polite' }, '読み取ったQRコード: 0');
  const previewBox = h('div', { class: 'preview', 'aria-live': 'polite' });
  const previewBtn = h('button', { type: 'submit', class: 'primary' }, '内容を確認');
  const saveBtn = h('button', { type: 'button', class: 'primary', disabled: true }, 'この内容で保存');
  const clearBtn = h('button', { type: 'button' }, 'クリア');
  let checked = null;

  text.addEventListener('input', () => {
    count.textContent = `読み取ったQRコード: ${symbols(text.value).length}`;
    if (checked !== null) {
      checked = null;
      saveBtn.disabled = true;
      previewBox.replaceChildren(h('p', { class: 'hint' }, '内容が変わりました。もう一度「内容を確認」を押してください。'));
    }
  });
  text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  clearBtn.addEventListener('click', () => {
    text.value = '';
    text.dispatchEvent(new Event('input'));
    previewBox.replaceChildren();
    text.focus();
  });

  const form = h('form', { class: 'qr-form' },
    h('label', { for: 'qr-text' }, 'お薬手帳QRコード'),
    h('p', { id: 'qr-hint', class: 'hint' },
      'スキャナで調剤明細のQRコードを続けて読み取るか、QRの内容を貼り付けてください（複数可・順不同）。Ctrl+Enterで確認。'),
    text, count, h('div', { class: 'row' }, previewBtn, saveBtn, clearBtn), previewBox);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const parts = symbols(text.value).map((t) => ({ text: t }));
    previewBox.replaceChildren();
    saveBtn.disabled = true;
    if (parts.length === 0) {
      previewBox.append(h('p', { class: 'problem', role: 'alert' }, 'QRコードを読み取るか貼り付けてください。'));
      text.focus();
      return;
    }
    const p = await guarded(previewBox, () =>
      api('POST', `/v1/persons/${personId}/medications/qr?preview=true`, { parts }));
    if (!p) return;
    if (!p.complete) {
      previewBox.append(h('p', { class: 'problem', role: 'alert' },
        `分割されたQRコードの一部が足りません（読み取り済み: ${p.received.join(', ') || 'なし'}、未読: ${p.missing.join(', ')}）。残りを読み取ってください。`));
      text.focus();
      return;
    }
    checked = parts;
    previewBox.append(renderPreview(p));
    saveBtn.disabled = p.dispensings.every((d) => d.alreadyStored) && p.facts.length === 0;
    announce(`調剤 ${p.dispensings.length}件を読み取りました。内容を確認して保存してください。`);
    (saveBtn.disabled ? text : saveBtn).focus();
  });

  saveBtn.addEventListener('click', async () => {
    if (!checked) return;
    saveBtn.disabled = true;
    const r = await guarded(previewBox, () =>
      api('POST', `/v1/persons/${personId}/medications/qr`, { parts: checked }));
    if (!r) return;
    checked = null;
    text.value = '';
    count.textContent = '読み取ったQRコード: 0';
    fill(previewBox, h('p', { class: 'done', role: 'status' },
      `保存しました（新規 ${r.created}件、登録済み ${r.unchanged}件）。`));
    announce('保存しました。');
    await afterSave();
    text.focus();
  });

  return section('お薬手帳QRの読み取り', form);
}

function renderPreview(p) {
  return h('div', { class: 'preview-list' },
    h('h3', {}, '読み取り結果（まだ保存されていません）'),
    p.dispensings.map((d) => {
      const x = d.dispensing;
      return h('article', { class: 'dispensing' },
        h('h4', {}, `${fmtDate(d.dispensedOn)} ${d.pharmacy || ''}`,
          d.alreadyStored ? h('span', { class: 'badge' }, '登録済み') : h('span', { class: 'badge new' }, '新規')),
        x.prescribingInstitution ? h('p', { class: 'meta' }, `処方: ${x.prescribingInstitution.name}`) : null,
        h('table', {},
          h('thead', {}, h('tr', {}, ['RP', '薬品名', '用量', '用法', '日数'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, (x.rps || []).flatMap((rp) => rp.drugs.map((drug, i) => h('tr', {},
            h('td', {}, i === 0 ? rp.number : ''),
            h('th', { scope: 'row' }, drug.name),
            h('td', {}, [drug.amount, drug.unit].filter(Boolean).join(' ')),
            h('td', {}, i === 0 ? rp.usage?.text || '' : ''),
            h('td', {}, i === 0 && rp.usage?.quantity ? `${rp.usage.quantity}${rp.usage.quantityUnit || ''}` : '')))))));
    }),
    p.facts.length ? h('div', {}, h('h4', {}, '一緒に登録される情報'),
      h('ul', {}, p.facts.map((f) => h('li', {}, `${FACT_LABELS[f.kind] || f.kind}: ${f.text}`)))) : null);
}

const FACT_LABELS = {
  allergy: 'アレルギー', side_effect: '副作用', past_illness: '既往歴', otc_drug: '市販薬', memo: 'メモ',
  patient_entry: '患者記入', patient_note: '患者特記',
};

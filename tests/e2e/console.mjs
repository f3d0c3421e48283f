// Drives the staff console in Debian's Chromium (headless) against a server the
// caller started and seeded (tests/api/console.rs). Exits non-zero on the first
// failed step; any browser console error (a CSP violation, a script error) fails too.
//
// Environment: PHR_E2E_BASE, PHR_E2E_PASSWORD, PHR_E2E_NURSE, PHR_E2E_PHARMACIST,
// PHR_E2E_RESIDENT (display name with an alert), PHR_E2E_OTHER (one without),
// PHR_E2E_NOTE, PHR_E2E_SHARE_CODE, PHR_E2E_QR_FILES (paths, separated by ':'),
// PHR_E2E_DRUG (a drug name the receipt holds), optional PHR_E2E_SCREENSHOTS
// (directory for PNGs) and PHR_E2E_CHROMIUM (default /usr/bin/chromium).

import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env('PHR_E2E_BASE');
const password = env('PHR_E2E_PASSWORD');
const shots = process.env.PHR_E2E_SCREENSHOTS;
if (shots) mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.PHR_E2E_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
// A UTC browser: every date the page shows must still be in JST.
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'ja-JP', timezoneId: 'UTC' });
const page = await context.newPage();
page.setDefaultTimeout(15_000);
const problems = [];
// Refused requests the steps provoke (a wrong password, a wrong code) are logged by
// Chromium as failed loads; those are checked on the page, not here.
page.on('console', (m) => {
  if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
});
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
// Nothing may leave the server's origin: the console works without internet.
page.on('request', (r) => {
  if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.push(`foreign request: ${r.url()}`);
});

let step = '';
const expect = (cond, what) => {
  if (!cond) throw new Error(`${step}: ${what}`);
};
const shot = async (name, fullPage = false) => {
  if (!shots) return;
  // The status bar sticks to the viewport's bottom, which a full-page capture moves mid-page.
  if (fullPage) await page.evaluate(() => document.getElementById('status').replaceChildren());
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage });
};

async function signIn(email) {
  await page.goto(`${base}/console/`);
  await page.getByLabel('メールアドレス').fill(email);
  await page.getByLabel('パスワード').fill(password);
  await page.getByRole('button', { name: 'サインイン' }).click();
}

try {
  step = 'sign-in page';
  await page.goto(`${base}/console`);
  expect(page.url() === `${base}/console/`, `/console redirects to /console/, got ${page.url()}`);
  expect((await page.getAttribute('html', 'lang')) === 'ja', 'html lang is ja');
  await page.getByLabel('メールアドレス').fill(env('PHR_E2E_NURSE'));
  await page.getByLabel('パスワード').fill('wrong password');
  await page.getByRole('button', { name: 'サインイン' }).click();
  await page.getByText('メールアドレスまたはパスワードが正しくありません。').waitFor();
  await page.getByLabel('パスワード').fill('');
  await shot('sign-in');

  step = 'nurse signs in and opens the programme';
  await signIn(env('PHR_E2E_NURSE'));
  await page.getByRole('link', { name: /重症化予防プログラム/ }).click();
  const table = page.locator('table.residents');
  await table.waitFor();
  const resident = env('PHR_E2E_RESIDENT');
  const other = env('PHR_E2E_OTHER');
  await page.getByRole('link', { name: other }).waitFor();
  expect((await table.locator('tbody tr').count()) === 2, 'both residents are listed');
  expect(await page.getByText('150/95 mmHg').isVisible(), 'the latest blood pressure is shown');

  step = 'nurse sorts by name';
  const nameHeader = table.locator('th', { has: page.getByRole('button', { name: /氏名/ }) });
  await page.getByRole('button', { name: /氏名/ }).click();
  expect((await nameHeader.getAttribute('aria-sort')) === 'ascending', 'aria-sort ascending after a click');
  const firstAsc = await table.locator('tbody tr th').first().textContent();
  await page.getByRole('button', { name: /氏名/ }).press('Enter');
  expect((await nameHeader.getAttribute('aria-sort')) === 'descending', 'the keyboard reverses the sort');
  const firstDesc = await table.locator('tbody tr th').first().textContent();
  expect(firstAsc !== firstDesc, 'the order changed');

  step = 'nurse filters alerts only';
  await page.getByLabel('アラートのみ表示').check();
  await page.getByText('1人（未対応アラートのある方のみ）').waitFor();
  expect((await table.locator('tbody tr').count()) === 1, 'only the resident with an alert remains');
  expect(await page.getByRole('link', { name: resident }).isVisible(), 'the resident with an alert is listed');
  await shot('nurse-residents');

  step = 'nurse opens the resident and sees the chart';
  await page.getByRole('link', { name: resident }).click();
  await page.getByRole('heading', { name: resident }).waitFor();
  const chart = page.locator('figure.chart svg');
  await chart.waitFor();
  expect((await chart.locator('path.line').count()) === 2, 'systolic and diastolic home lines');
  expect((await chart.locator('circle.dot').count()) >= 10, 'a dot per day with readings');
  await page.locator('.legend li', { hasText: '収縮期（家庭・日平均）' }).waitFor();
  await page.locator('.legend li', { hasText: '収縮期（医療機関で測定）' }).waitFor();
  await page.getByLabel('90日').check();
  await page.locator('figure.chart figcaption', { hasText: '血圧・90日' }).waitFor();
  await page.getByLabel('30日').check();
  await page.locator('figure.chart figcaption', { hasText: '血圧・30日' }).waitFor();

  step = 'nurse writes a guidance note';
  const note = env('PHR_E2E_NOTE');
  await page.getByLabel(/保健指導メモを書く/).fill(note);
  await page.getByRole('button', { name: 'メモを保存' }).click();
  await page.locator('.notes li', { hasText: note }).waitFor();
  await page.locator('#status', { hasText: 'メモを保存しました。' }).waitFor();
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot('nurse-resident', true);

  step = 'nurse acknowledges the alert';
  await page.getByRole('button', { name: '確認済みにする' }).click();
  await page.getByText('未対応のアラートはありません。').waitFor();

  step = 'nurse signs out';
  await page.getByRole('button', { name: 'サインアウト' }).click();
  await page.getByLabel('メールアドレス').waitFor();
  expect((await page.evaluate(() => sessionStorage.length)) <= 1, 'the session is gone');
  expect((await page.evaluate(() => localStorage.length)) === 0, 'nothing in localStorage');

  step = 'pharmacist redeems the share code';
  await signIn(env('PHR_E2E_PHARMACIST'));
  const codeInput = page.getByRole('textbox', { name: '共有コード' });
  await codeInput.waitFor();
  await codeInput.fill('0000-wrong');
  await codeInput.press('Enter');
  await page.locator('.problem').first().waitFor();
  // A scanner types the code and Enter.
  await codeInput.fill('');
  await codeInput.pressSequentially(env('PHR_E2E_SHARE_CODE'));
  await codeInput.press('Enter');
  await page.getByRole('heading', { name: /服用中のお薬/ }).waitFor();
  await page.getByText('乳製品').waitFor();

  step = 'pharmacist pastes the QR symbols and previews';
  const payload = env('PHR_E2E_QR_FILES').split(':').map((f) => readFileSync(f, 'utf8').trimEnd()).join('\n');
  const qr = page.getByRole('textbox', { name: 'お薬手帳QRコード' });
  await qr.fill(payload);
  const symbols = env('PHR_E2E_QR_FILES').split(':').length;
  await page.getByText(`読み取ったQRコード: ${symbols}`).waitFor();
  await page.getByRole('button', { name: '内容を確認' }).click();
  const drug = env('PHR_E2E_DRUG');
  await page.locator('.preview-list').getByText(drug).first().waitFor();
  expect(await page.locator('.preview-list .badge.new').first().isVisible(), 'marked as new');
  const save = page.getByRole('button', { name: 'この内容で保存' });
  expect(await save.isEnabled(), 'save is offered after a complete preview');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot('pharmacist-preview', true);

  step = 'pharmacist saves';
  await save.click();
  await page.getByText(/保存しました（新規 1件/).waitFor();

  expect(problems.length === 0, `browser problems:\n${problems.join('\n')}`);
  console.log('console e2e: all steps passed');
  await browser.close();
} catch (err) {
  console.error(`console e2e failed at "${step}": ${err.message}`);
  if (problems.length) console.error(problems.join('\n'));
  if (shots) await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => {});
  await browser.close();
  process.exit(1);
}

// Entry point: sign-in, the choice of organization and role, and the hash
// routes of the views (#/org/{orgId}/nurse…, #/org/{orgId}/pharmacy).

import { api, all, events, signIn, signOut, signedIn } from './api.js';
import { h, fill, announce, problemBox, ROLE_LABELS } from './ui.js';
import { programmes, residents, resident } from './nurse.js';
import { counter } from './pharmacy.js';

const main = document.getElementById('main');
const who = document.getElementById('who');

/** The staff member's organizations with a console role, cached for the session. */
let orgs = null;

async function myOrgs() {
  if (!orgs) {
    const list = await all('/v1/orgs?limit=200');
    orgs = list
      .map((o) => ({ ...o, roles: o.myRoles.filter((r) => r === 'nurse' || r === 'pharmacist') }))
      .filter((o) => o.roles.length > 0);
  }
  return orgs;
}

function signInView() {
  who.replaceChildren();
  const error = h('div', { class: 'form-error' });
  const email = h('input', { id: 'email', name: 'username', type: 'email', autocomplete: 'username', required: true });
  const password = h('input', {
    id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true,
  });
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'signin-title' },
    h('h2', { id: 'signin-title' }, 'サインイン'),
    h('p', { class: 'hint' }, 'アプリと同じメールアドレスとパスワードでサインインしてください。'),
    h('label', { for: 'email' }, 'メールアドレス'),
    email,
    h('label', { for: 'password' }, 'パスワード'),
    password,
    error,
    h('button', { type: 'submit', class: 'primary' }, 'サインイン'),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.replaceChildren();
    try {
      await signIn(email.value.trim(), password.value);
      password.value = '';
      orgs = null;
      announce('サインインしました。');
      await route();
    } catch (err) {
      error.append(problemBox(err.status === 400 || err.status === 401
        ? { message: 'メールアドレスまたはパスワードが正しくありません。' } : err));
      password.focus();
    }
  });
  fill(main, form);
  email.focus();
}

async function header() {
  const me = await api('GET', '/v1/me');
  fill(
    who,
    h('span', { class: 'me' }, me.displayName),
    h('button', {
      type: 'button',
      class: 'link',
      onclick: async () => {
        await signOut();
        orgs = null;
        location.hash = '#/';
        signInView();
        announce('サインアウトしました。');
      },
    }, 'サインアウト'),
  );
}

/** The organization and role to work as; chosen automatically when there is only one. */
async function chooser() {
  const list = await myOrgs();
  const choices = list.flatMap((o) => o.roles.map((r) => ({ org: o, role: r })));
  if (choices.length === 1) {
    const { org, role } = choices[0];
    location.replace(`#/org/${org.orgId}/${role === 'nurse' ? 'nurse' : 'pharmacy'}`);
    return;
  }
  if (choices.length === 0) {
    fill(main, h('section', { class: 'card' }, h('h2', {}, '所属がありません'),
      h('p', {}, 'このアカウントは保健師・薬剤師として登録された組織がありません。組織の管理者に登録を依頼してください。')));
    return;
  }
  fill(
    main,
    h('section', { class: 'card', 'aria-labelledby': 'org-title' },
      h('h2', { id: 'org-title' }, '組織を選択'),
      h('ul', { class: 'choices' }, choices.map(({ org, role }) =>
        h('li', {}, h('a', { class: 'choice', href: `#/org/${org.orgId}/${role === 'nurse' ? 'nurse' : 'pharmacy'}` },
          h('strong', {}, org.name), h('span', {}, ROLE_LABELS[role] || role)))))),
  );
  main.querySelector('a')?.focus();
}

function breadcrumbs(org, ...rest) {
  const nav = document.getElementById('nav');
  fill(nav, h('ol', { class: 'crumbs' },
    h('li', {}, h('a', { href: '#/choose' }, '組織選択')),
    org ? h('li', {}, org.name) : null,
    rest.map((r) => h('li', {}, r.href ? h('a', { href: r.href }, r.label) : r.label))));
}

async function route() {
  if (!signedIn()) {
    document.getElementById('nav').replaceChildren();
    signInView();
    return;
  }
  main.setAttribute('aria-busy', 'true');
  try {
    await header();
    const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
    if (parts[0] !== 'org') {
      breadcrumbs(null);
      await chooser();
      return;
    }
    const org = (await myOrgs()).find((o) => o.orgId === parts[1]);
    if (!org) {
      location.replace('#/choose');
      return;
    }
    const ctx = { main, org, crumbs: (...r) => breadcrumbs(org, ...r) };
    if (parts[2] === 'pharmacy' && org.roles.includes('pharmacist')) await counter(ctx);
    else if (parts[2] === 'nurse' && org.roles.includes('nurse')) await programmes(ctx);
    else if (parts[2] === 'program' && parts[4] === 'resident' && org.roles.includes('nurse')) {
      await resident(ctx, parts[3], parts[5]);
    } else if (parts[2] === 'program' && org.roles.includes('nurse')) await residents(ctx, parts[3]);
    else location.replace('#/choose');
  } catch (err) {
    if (signedIn()) fill(main, problemBox(err));
  } finally {
    main.removeAttribute('aria-busy');
  }
}

events.expired = () => {
  announce('セッションの有効期限が切れました。もう一度サインインしてください。', 'error');
  signInView();
};

window.addEventListener('hashchange', () => {
  route().then(() => main.focus({ preventScroll: true }));
});
route();

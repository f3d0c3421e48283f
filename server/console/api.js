// The public /v1 API with the staff member's bearer token. Tokens live in
// sessionStorage (this tab only, gone when it closes), never in localStorage.

const KEY = 'phr.console.session';

/** An RFC 9457 problem answered by the API (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code || (status ? 'http_error' : 'network');
    /** [{path, message}] naming the fields that were refused. */
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
  }
}

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || 'null');
  } catch {
    return null;
  }
}

let session = load();
let refreshing = null;

function keep(tokens) {
  session = {
    access: tokens.access_token,
    refresh: tokens.refresh_token || null,
    expiresAt: Date.now() + (tokens.expires_in || 0) * 1000,
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function signedIn() {
  return session !== null;
}

async function tokenRequest(fields) {
  let res;
  try {
    res = await fetch('/v1/auth/token', {
      method: 'POST',
      headers: { accept: 'application/json' },
      body: new URLSearchParams(fields),
    });
  } catch {
    throw new ApiError(0, { detail: 'サーバーに接続できません。' });
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body);
  keep(body);
}

export async function signIn(email, password) {
  await tokenRequest({ grant_type: 'password', username: email, password });
}

/** Rotates the refresh token once, however many requests found the access token expired. */
function refresh() {
  if (!session?.refresh) return Promise.resolve(false);
  refreshing ??= tokenRequest({ grant_type: 'refresh_token', refresh_token: session.refresh })
    .then(() => true, () => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export async function signOut() {
  const token = session?.refresh;
  session = null;
  sessionStorage.removeItem(KEY);
  if (token) {
    await fetch('/v1/auth/revoke', { method: 'POST', body: new URLSearchParams({ token }) }).catch(() => {});
  }
}

/** Called when the session cannot be renewed (set by the app to show the sign-in page). */
export const events = { expired: () => {} };

/**
 * `api('GET', '/v1/me')`; JSON bodies for POST. Refreshes an expired access
 * token once and retries; throws ApiError with the problem otherwise.
 */
export async function api(method, path, body) {
  if (session && session.expiresAt - Date.now() < 30_000) await refresh();
  let res = await send(method, path, body);
  if (res.status === 401 && (await refresh())) res = await send(method, path, body);
  if (res.status === 401) {
    session = null;
    sessionStorage.removeItem(KEY);
    events.expired();
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

async function send(method, path, body) {
  const headers = { accept: 'application/json' };
  if (session) headers.authorization = `Bearer ${session.access}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    return await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { detail: 'サーバーに接続できません。' });
  }
}

/** Every item of a keyset-paged list (bounded, so a huge directory cannot stall the page). */
export async function all(path, maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api('GET', cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    items.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return items;
}

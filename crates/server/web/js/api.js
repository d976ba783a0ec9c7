// The HTTP API client: JSON in and out, the CSRF double-submit header on writes, typed errors.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The value of a cookie readable by scripts (the CSRF token). */
export function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return null;
}

function headers(method, json) {
  const h = { Accept: 'application/json' };
  if (json) h['Content-Type'] = 'application/json';
  if (!['GET', 'HEAD'].includes(method)) {
    const token = cookie('encore_csrf');
    if (token) h['X-CSRF-Token'] = token;
  }
  return h;
}

async function errorFrom(r) {
  let code = `http_${r.status}`;
  let message = r.statusText || 'request failed';
  try {
    const body = await r.json();
    if (body && body.error) {
      code = body.error.code;
      message = body.error.message;
    }
  } catch { /* not JSON */ }
  return new ApiError(r.status, code, message);
}

/** Calls the API. `body` is sent as JSON. Resolves to the parsed body (null for 204). */
export async function api(path, { method = 'GET', body, signal, keepalive } = {}) {
  const r = await fetch(path, {
    method,
    headers: headers(method, body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    signal,
    keepalive,
  });
  if (!r.ok) throw await errorFrom(r);
  if (r.status === 204) return null;
  const type = r.headers.get('content-type') || '';
  return type.includes('json') ? r.json() : r.text();
}

/** Like api() but resolves to null on 404 (something not there yet). */
export async function apiOptional(path, opts) {
  try {
    return await api(path, opts);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

/**
 * Uploads multipart form data with progress: onProgress(loaded, total) from XHR upload events.
 * Resolves to the parsed JSON response.
 */
export function upload(path, formData, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [k, v] of Object.entries(headers('POST', false))) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body?.error?.code || `http_${xhr.status}`, body?.error?.message || 'upload failed'));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'the connection failed during the upload')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'the upload was cancelled')));
    xhr.send(formData);
  });
}

/** The signed-in account (GET /api/me), or null. */
export const session = { me: null };

export async function loadMe() {
  try {
    session.me = await api('/api/me');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) session.me = null;
    else throw e;
  }
  return session.me;
}

export function isStaff(me) {
  return me && (me.role === 'admin' || me.role === 'reviewer');
}

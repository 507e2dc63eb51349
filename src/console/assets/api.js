// Calls to the gateway. Everything goes through /_tollgate/console/api/{path}: the gateway
// signs each request with this session's key and serves it as any S3 or admin request,
// so what is refused here is refused with the gateway's own words.

const BASE = '/_tollgate/console/';
export const session = { csrf: '', who: null };
/** The admin API's path, as `gw` takes it. */
export const ADMIN = '_tollgate/admin/';

/** An error the gateway answered: its status, code and message. */
export class GatewayError extends Error {
  constructor(status, code, message) {
    super(code ? `${code}: ${message} (HTTP ${status})` : `${message} (HTTP ${status})`);
    this.status = status;
    this.code = code;
    this.gateway = true;
  }
}

/** S3's URI encoding of a key or bucket: everything but A-Z a-z 0-9 - _ . ~ (and /). */
export function enc(s, keepSlash = true) {
  const out = [];
  for (const b of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out.push(c);
    else out.push('%' + b.toString(16).toUpperCase().padStart(2, '0'));
  }
  return out.join('');
}

/** The gateway's words for a failed answer (S3 XML error, JSON {"error"}, or the status). */
export async function errorOf(status, text) {
  text = text || '';
  if (text.trimStart().startsWith('<')) {
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    const code = doc.querySelector('Error > Code')?.textContent;
    const msg = doc.querySelector('Error > Message')?.textContent;
    if (code || msg) return new GatewayError(status, code || '', msg || 'the gateway refused the request');
  }
  try {
    const v = JSON.parse(text);
    if (v && v.error) return new GatewayError(status, '', v.error);
  } catch { /* not JSON */ }
  const words = { 401: 'Not signed in or the session ended', 403: 'Access denied', 404: 'Not found', 503: 'The gateway is unavailable' };
  return new GatewayError(status, '', text.trim().slice(0, 300) || words[status] || 'The request failed');
}

let onSignedOut = () => {};
export function whenSignedOut(fn) { onSignedOut = fn; }

async function check(resp, accept = []) {
  if (resp.ok || accept.includes(resp.status)) return resp;
  const err = await errorOf(resp.status, await resp.text());
  if (resp.status === 401) onSignedOut(err);
  throw err;
}

/** A query string as S3 reads it (spaces as %20, never +). */
export function qs(query) {
  return query ? '?' + new URLSearchParams(query).toString().replace(/\+/g, '%20') : '';
}

/**
 * A request to the gateway as this session's key: `path` is the S3 or admin path without
 * its first slash. A failed answer throws, unless its status is in `accept`.
 */
export async function gw(method, path, { query, body, headers, accept } = {}) {
  const q = qs(query);
  const h = new Headers(headers || {});
  if (method !== 'GET' && method !== 'HEAD') h.set('x-tollgate-csrf', session.csrf);
  return check(await fetch(BASE + 'api/' + path + q, { method, headers: h, body, credentials: 'same-origin', cache: 'no-store' }), accept);
}

/** An S3 answer as an XML document. */
export async function xml(method, path, opts) {
  const text = await (await gw(method, path, opts)).text();
  return new DOMParser().parseFromString(text, 'application/xml');
}

/** A JSON answer of the admin or proof API. */
export async function json(method, path, { query, body } = {}) {
  const opts = { query };
  if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers = { 'content-type': 'application/json' }; }
  return (await gw(method, path, opts)).json();
}

/** A call to the console's own endpoints (session, presign). */
export async function consoleCall(method, path, body) {
  const headers = { 'content-type': 'application/json' };
  if (method !== 'GET') headers['x-tollgate-csrf'] = session.csrf;
  const resp = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  if (!resp.ok) throw await errorOf(resp.status, await resp.text());
  return resp.json();
}

/** The URL that downloads an object, or one version of it (the gateway serves it as an attachment). */
export function downloadUrl(bucket, key, versionId) {
  const name = key.split('/').pop() || 'download';
  const disposition = `attachment; filename*=UTF-8''${enc(name, false)}`;
  const version = versionId ? '&versionId=' + enc(versionId, false) : '';
  return BASE + 'api/' + enc(bucket, false) + '/' + enc(key) + '?response-content-disposition=' + enc(disposition, false) + version;
}

/**
 * Sends a body with progress (XMLHttpRequest: fetch reports none for uploads).
 * Returns { done: Promise<XMLHttpRequest>, abort() }.
 */
export function send(method, path, query, blob, headers, onProgress) {
  const xhr = new XMLHttpRequest();
  const q = qs(query);
  const done = new Promise((resolve, reject) => {
    xhr.open(method, BASE + 'api/' + path + q);
    xhr.setRequestHeader('x-tollgate-csrf', session.csrf);
    for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded); });
    xhr.addEventListener('load', async () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr);
      else {
        const err = await errorOf(xhr.status, xhr.responseText);
        if (xhr.status === 401) onSignedOut(err);
        reject(err);
      }
    });
    xhr.addEventListener('error', () => reject(new Error('The connection to the gateway failed during the upload.')));
    xhr.addEventListener('abort', () => reject(new Error('Cancelled.')));
    xhr.send(blob);
  });
  return { done, abort: () => xhr.abort() };
}

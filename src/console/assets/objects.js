// Buckets and objects: list, create, delete, a prefix browser with paging, details, tags,
// share links, downloads and uploads.
import { gw, xml, enc, consoleCall, downloadUrl, session, errorOf } from './api.js';
import { el, button, guarded, confirmAction, bytes, table, notice, copy, showError } from './ui.js';
import { uploader } from './upload.js';
import { proofPanel } from './proof.js';
import { versionsPanel } from './versions.js';

const PAGE = 1000;
const text = (node, sel) => node.querySelector(sel)?.textContent ?? '';
export const bucketHash = (bucket, prefix = '') => '#/b/' + encodeURIComponent(bucket) + '/' + encodeURIComponent(prefix);

/** The bucket list, with create and delete. */
export async function bucketsView() {
  const doc = await xml('GET', '');
  const buckets = [...doc.querySelectorAll('Buckets > Bucket')].map((b) => ({ name: text(b, 'Name'), created: text(b, 'CreationDate') }));
  const name = el('input', { id: 'new-bucket', placeholder: 'new-bucket-name', required: true, pattern: '[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]', title: '3 to 63 lower-case letters, digits, dots and hyphens' });
  const form = el('form', { class: 'row', id: 'create-bucket' }, el('label', {}, 'New bucket', name), el('button', { type: 'submit', class: 'primary' }, 'Create bucket'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const ok = await guarded(() => gw('PUT', enc(name.value.trim(), false)));
    if (ok) { notice(`Bucket ${name.value.trim()} created.`); location.hash = bucketHash(name.value.trim()); }
  });
  const rows = table([
    ['Bucket', (b) => el('a', { href: bucketHash(b.name), class: 'bucket-link' }, b.name)],
    ['Created', (b) => b.created],
    ['', (b) => button('Delete', async () => {
      if (!(await confirmAction(`Delete the bucket "${b.name}"? It must be empty.`))) return;
      if (await guarded(() => gw('DELETE', enc(b.name, false)))) { notice(`Bucket ${b.name} deleted.`); window.dispatchEvent(new HashChangeEvent('hashchange')); }
    }, { class: 'danger' })],
  ], buckets, { id: 'bucket-table' });
  return el('div', {}, el('h1', {}, 'Buckets'), form, buckets.length ? rows : el('p', { class: 'muted' }, 'No bucket yet.'));
}

/** One page of a prefix: folders and objects, 1000 at most, with the next page's token. */
async function listPage(bucket, prefix, token, delimiter) {
  const query = { 'list-type': '2', 'max-keys': String(PAGE), prefix };
  if (delimiter) query.delimiter = '/';
  if (token) query['continuation-token'] = token;
  const doc = await xml('GET', enc(bucket, false), { query });
  return {
    folders: [...doc.querySelectorAll('ListBucketResult > CommonPrefixes > Prefix')].map((p) => p.textContent),
    objects: [...doc.querySelectorAll('ListBucketResult > Contents')].map((c) => ({
      key: text(c, 'Key'), size: Number(text(c, 'Size')), modified: text(c, 'LastModified'), etag: text(c, 'ETag'),
    })),
    next: text(doc, 'ListBucketResult > NextContinuationToken'),
    truncated: text(doc, 'ListBucketResult > IsTruncated') === 'true',
  };
}

/** The prefix browser of `bucket` at `prefix`. */
export async function objectsView(bucket, prefix) {
  const root = el('div', { id: 'objects-view' });
  const crumbs = el('div', { class: 'crumbs' }, el('a', { href: '#/buckets' }, 'Buckets'), ' / ', el('a', { href: bucketHash(bucket) }, bucket));
  let acc = '';
  for (const part of prefix.split('/').filter(Boolean)) {
    acc += part + '/';
    crumbs.append(' / ', el('a', { href: bucketHash(bucket, acc) }, part));
  }
  const search = el('input', { id: 'search', placeholder: 'key prefix', value: '' });
  const searchForm = el('form', { class: 'row' }, el('label', {}, 'Search by prefix (within this folder)', search), el('button', { type: 'submit' }, 'Search'));
  const folder = el('input', { id: 'new-folder', placeholder: 'folder name' });
  const folderForm = el('form', { class: 'row', id: 'create-folder' }, el('label', {}, 'New folder', folder), el('button', { type: 'submit' }, 'Create folder'));
  const listing = el('div', { id: 'listing' });
  const pager = el('div', { class: 'row', id: 'pager' });
  const details = el('div', { id: 'details' });
  const tokens = [''];
  let page = 0;
  let filter = '';

  async function show() {
    const t0 = performance.now();
    const p = await listPage(bucket, prefix + filter, tokens[page], !filter);
    if (p.truncated && p.next) tokens[page + 1] = p.next;
    const rows = [];
    for (const f of p.folders) rows.push({ folder: f });
    for (const o of p.objects) if (o.key !== prefix) rows.push(o);
    const frag = table([
      ['Name', (r) => r.folder
        ? el('a', { href: bucketHash(bucket, r.folder), class: 'folder' }, r.folder.slice(prefix.length))
        : el('a', { href: '#', class: 'object-link', 'data-key': r.key }, r.key.slice(prefix.length))],
      ['Size', (r) => (r.folder ? '' : bytes(r.size))],
      ['Modified', (r) => r.modified || ''],
      ['', (r) => (r.folder ? '' : el('span', {}, el('a', { href: downloadUrl(bucket, r.key), download: r.key.split('/').pop(), class: 'download' }, 'Download')))],
    ], rows, { id: 'object-table' });
    listing.replaceChildren(rows.length ? frag : el('p', { class: 'muted' }, filter ? 'No key starts with this.' : 'This folder is empty.'));
    pager.replaceChildren(
      button('Previous page', () => { page--; guarded(show); }, { disabled: page === 0 }),
      el('span', { class: 'muted' }, `Page ${page + 1} · ${rows.length} entries`),
      button('Next page', () => { page++; guarded(show); }, { disabled: !tokens[page + 1] || !p.truncated, id: 'next-page' }),
    );
    root.dataset.renderMs = String(Math.round(performance.now() - t0));
  }

  // One listener for every row (1000 rows, one handler).
  listing.addEventListener('click', (ev) => {
    const a = ev.target.closest('a.object-link');
    if (!a) return;
    ev.preventDefault();
    guarded(() => objectDetails(bucket, a.dataset.key, details, () => guarded(show)));
  });
  searchForm.addEventListener('submit', (ev) => { ev.preventDefault(); filter = search.value; tokens.length = 1; page = 0; guarded(show); });
  folderForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = folder.value.replace(/^\/+|\/+$/g, '');
    if (!name) return;
    // A folder is an empty object whose key ends with "/", as S3 consoles make them.
    if (await guarded(() => gw('PUT', enc(bucket, false) + '/' + enc(prefix + name + '/'), { body: '' }))) location.hash = bucketHash(bucket, prefix + name + '/');
  });
  const up = uploader(bucket, () => prefix, () => guarded(show));
  root.append(el('h1', {}, 'Objects'), crumbs, up, folderForm, searchForm, pager, listing, details);
  await show();
  return root;
}

/** An object's details: size, type, ETag, metadata, tags (editable), share link, proof, delete. */
async function objectDetails(bucket, key, box, refresh) {
  const path = enc(bucket, false) + '/' + enc(key);
  const head = await gw('HEAD', path);
  const h = head.headers;
  const meta = [...h.entries()].filter(([k]) => k.startsWith('x-amz-meta-'));
  const checksums = [...h.entries()].filter(([k]) => k.startsWith('x-amz-checksum-'));
  const tagsDoc = await xml('GET', path, { query: { tagging: '' } });
  const tags = [...tagsDoc.querySelectorAll('TagSet > Tag')].map((t) => [text(t, 'Key'), text(t, 'Value')]);
  const dl = el('dl', { id: 'object-facts' },
    el('dt', {}, 'Key'), el('dd', { id: 'detail-key' }, key),
    el('dt', {}, 'Size'), el('dd', {}, `${bytes(h.get('content-length'))} (${h.get('content-length')} bytes)`),
    el('dt', {}, 'Type'), el('dd', {}, h.get('content-type') || ''),
    el('dt', {}, 'ETag'), el('dd', {}, h.get('etag') || ''),
    el('dt', {}, 'Modified'), el('dd', {}, h.get('last-modified') || ''),
    h.get('x-amz-version-id') ? [el('dt', {}, 'Version'), el('dd', {}, h.get('x-amz-version-id'))] : [],
    checksums.map(([k, v]) => [el('dt', {}, k.slice(15)), el('dd', {}, v)]),
    meta.map(([k, v]) => [el('dt', {}, 'meta: ' + k.slice(11)), el('dd', {}, v)]),
  );
  const tagText = el('input', { id: 'tags', value: tags.map(([k, v]) => `${k}=${v}`).join('&'), size: 40, placeholder: 'key=value&key2=value2' });
  const tagForm = el('form', { class: 'row' }, el('label', {}, 'Tags (key=value&…)', tagText), el('button', { type: 'submit' }, 'Save tags'));
  tagForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const set = new URLSearchParams(tagText.value);
    const doc = document.implementation.createDocument(null, 'Tagging');
    const ts = doc.createElement('TagSet');
    for (const [k, v] of set) {
      const t = doc.createElement('Tag'), kk = doc.createElement('Key'), vv = doc.createElement('Value');
      kk.textContent = k; vv.textContent = v; t.append(kk, vv); ts.append(t);
    }
    doc.documentElement.append(ts);
    const body = new XMLSerializer().serializeToString(doc);
    if (await guarded(() => gw('PUT', path, { query: { tagging: '' }, body, headers: { 'content-type': 'application/xml' } }))) notice('Tags saved.');
  });
  const renameTo = el('input', { id: 'rename-to', value: key, size: 40 });
  const renameForm = el('form', { class: 'row', id: 'rename' }, el('label', {}, 'Rename to (copied, then the old key deleted)', renameTo), el('button', { type: 'submit' }, 'Rename'));
  renameForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const to = renameTo.value;
    if (!to || to === key) return;
    const copied = await guarded(async () => {
      const resp = await gw('PUT', enc(bucket, false) + '/' + enc(to), { headers: { 'x-amz-copy-source': '/' + enc(bucket, false) + '/' + enc(key) } });
      // A copy may answer 200 with an error document.
      const text = await resp.text();
      if (text.includes('<Error>')) throw await errorOf(500, text);
      return true;
    });
    if (!copied) return;
    if (await guarded(() => gw('DELETE', path))) { notice(`Renamed ${key} to ${to}.`); box.replaceChildren(); refresh(); }
  });
  const expiry = el('select', { id: 'share-expiry' }, [['900', '15 minutes'], ['3600', '1 hour'], ['86400', '1 day'], ['604800', '7 days']].map(([v, t]) => el('option', { value: v }, t)));
  const shareOut = el('div', { id: 'share-out' });
  const share = button('Create share link', async () => {
    const v = await guarded(() => consoleCall('POST', 'presign', { bucket, key, expires_secs: Number(expiry.value) }));
    if (!v) return;
    shareOut.replaceChildren(el('input', { id: 'share-url', value: v.url, readonly: true, size: 60 }), ' ', button('Copy', () => copy(v.url)),
      el('p', { class: 'muted' }, `Anyone with this link can download the object until ${new Date(Number(BigInt(v.expires_ns) / 1000000n)).toISOString()}, as ${session.who.access_key} could.`));
  }, { id: 'share' });
  const del = button('Delete object', async () => {
    const kept = versioned ? ' The bucket is versioned: a delete marker hides it, its versions stay.' : '';
    if (!(await confirmAction(`Delete "${key}"?${kept}`))) return;
    if (await guarded(() => gw('DELETE', path))) { notice(`Deleted ${key}.`); box.replaceChildren(); refresh(); }
  }, { class: 'danger', id: 'delete-object' });
  // A deleted version may have been the current one: the details are read again, and gone
  // with the object if no version is left.
  const versionChanged = async () => {
    refresh();
    try { await objectDetails(bucket, key, box, refresh); } catch (e) { box.replaceChildren(); if (e.status !== 404) showError(e); }
  };
  let versions = null, versioned = false;
  try {
    versions = await versionsPanel(bucket, key, versionChanged);
    versioned = versions !== null;
  } catch (e) {
    versions = el('p', { class: 'bad', id: 'versions' }, `The versions could not be listed: ${e.message}`);
  }
  const proof = el('div', { id: 'proof' });
  const showProof = button('Provenance', () => guarded(async () => proof.replaceChildren(await proofPanel(bucket, key))), { id: 'show-proof' });
  box.replaceChildren(el('div', { class: 'panel', id: 'object-details' },
    el('h2', {}, 'Object'), dl, tagForm, renameForm,
    el('div', { class: 'row' }, el('a', { href: downloadUrl(bucket, key), download: key.split('/').pop(), id: 'detail-download' }, 'Download'), el('label', {}, 'Share for', expiry), share, showProof, del),
    shareOut, versions, proof));
  box.scrollIntoView({ block: 'nearest' });
  showError(null);
}

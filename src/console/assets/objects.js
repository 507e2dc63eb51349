// Buckets and objects: list, create, delete, a prefix browser with paging, details, tags,
// share links, downloads and uploads.
import { gw, xml, enc, consoleCall, downloadUrl, session, errorOf } from './api.js';
import { el, button, guarded, confirmAction, bytes, table, notice, copy, showError, focusHeading } from './ui.js';
import { uploader } from './upload.js';
import { proofPanel } from './proof.js';
import { versionsPanel, versioned as isVersioned, deletedPage } from './versions.js';

const PAGE = 1000;
const text = (node, sel) => node.querySelector(sel)?.textContent ?? '';
export const bucketHash = (bucket, prefix = '') => '#/b/' + encodeURIComponent(bucket) + '/' + encodeURIComponent(prefix);
/** The buckets whose deleted keys are shown (kept while going from folder to folder). */
const showingDeleted = new Set();

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
  // A versioned bucket can list its deleted keys (their latest entry a delete marker).
  const deletedToggle = el('input', { type: 'checkbox', id: 'show-deleted', checked: showingDeleted.has(bucket) });
  const deletedRow = el('div', { class: 'row', id: 'deleted-row', hidden: !showingDeleted.has(bucket) },
    el('label', { class: 'check' }, deletedToggle, 'Show deleted keys (to restore them)'));
  const tokens = [''];
  const starts = [null];
  let page = 0;
  let filter = '';
  let openKey = null;

  function pagerOf(text, more) {
    // A page turned from the keyboard keeps the focus on the pager (on the other button
    // when this one is now disabled), not lost with the old buttons.
    const was = pager.contains(document.activeElement) ? document.activeElement.textContent : null;
    const prev = button('Previous page', () => { page--; guarded(show); }, { disabled: page === 0 });
    const next = button('Next page', () => { page++; guarded(show); }, { disabled: !more, id: 'next-page' });
    pager.replaceChildren(prev, el('span', { class: 'muted' }, text), next);
    if (was) (was === next.textContent ? [next, prev] : [prev, next]).find((b) => !b.disabled)?.focus();
  }

  /** A page of deleted keys: each opens its details, where Restore is. */
  async function showDeleted() {
    const p = await deletedPage(bucket, prefix + filter, starts[page], !filter, PAGE);
    if (p.next) starts[page + 1] = p.next;
    const rows = [...p.folders.map((f) => ({ folder: f })), ...p.deleted.filter((o) => o.key !== prefix)];
    listing.replaceChildren(el('p', { class: 'muted' }, 'Deleted keys: their latest entry is a delete marker, their versions are kept. Open one to restore it. Folders are listed as they may hold some.'),
      rows.length ? table([
        ['Name', (r) => r.folder
          ? el('a', { href: bucketHash(bucket, r.folder), class: 'folder' }, r.folder.slice(prefix.length))
          : el('a', { href: '#', class: 'deleted-link', 'data-key': r.key }, r.key.slice(prefix.length))],
        ['Deleted', (r) => r.modified || ''],
      ], rows, { id: 'deleted-table' }) : el('p', { class: 'muted' }, p.next ? 'No deleted key among these entries: the next page may hold some.' : 'No deleted key here.'));
    pagerOf(`Page ${page + 1} · ${p.deleted.length} deleted keys among ${p.read} versions and markers`, Boolean(p.next));
  }

  async function show() {
    if (deletedToggle.checked) return showDeleted();
    const t0 = performance.now();
    const p = await listPage(bucket, prefix + filter, tokens[page], !filter);
    root.dataset.fetchMs = String(Math.round(performance.now() - t0));
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
    pagerOf(`Page ${page + 1} · ${rows.length} entries`, Boolean(tokens[page + 1] && p.truncated));
    root.dataset.renderMs = String(Math.round(performance.now() - t0));
  }

  /** Closes the details, the focus back on the link that opened them (if still listed). */
  function closeDetails() {
    details.replaceChildren();
    const link = [...listing.querySelectorAll('a[data-key]')].find((a) => a.dataset.key === openKey);
    if (link) link.focus(); else focusHeading(root);
    openKey = null;
  }
  // One listener for every row (1000 rows, one handler); a link opens with Enter as with a click.
  listing.addEventListener('click', async (ev) => {
    const a = ev.target.closest('a.object-link, a.deleted-link');
    if (!a) return;
    ev.preventDefault();
    openKey = a.dataset.key;
    if (await guarded(() => objectDetails(bucket, a.dataset.key, details, () => guarded(show), closeDetails))) focusHeading(details);
  });
  // Escape in the details closes them (a dialog over them takes its own Escape).
  details.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && details.firstChild && !ev.defaultPrevented) { ev.preventDefault(); closeDetails(); }
  });
  const restart = () => { tokens.length = 1; starts.length = 1; page = 0; guarded(show); };
  deletedToggle.addEventListener('change', () => {
    if (deletedToggle.checked) showingDeleted.add(bucket); else showingDeleted.delete(bucket);
    restart();
  });
  searchForm.addEventListener('submit', (ev) => { ev.preventDefault(); filter = search.value; restart(); });
  folderForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = folder.value.replace(/^\/+|\/+$/g, '');
    if (!name) return;
    // A folder is an empty object whose key ends with "/", as S3 consoles make them.
    if (await guarded(() => gw('PUT', enc(bucket, false) + '/' + enc(prefix + name + '/'), { body: '' }))) location.hash = bucketHash(bucket, prefix + name + '/');
  });
  const up = uploader(bucket, () => prefix, () => guarded(show));
  root.append(el('h1', {}, 'Objects'), crumbs, up, folderForm, searchForm, deletedRow, pager, listing, details);
  await show();
  // Asked once the first page is shown (it waits for nothing else); if versioning cannot be
  // read, the toggle is offered anyway (its listing says what the gateway answers).
  isVersioned(bucket).then((v) => { if (v) deletedRow.hidden = false; }, () => { deletedRow.hidden = false; });
  return root;
}

/**
 * An object's details: size, type, ETag, metadata, tags (editable), share link, proof,
 * delete; or, for a deleted key of a versioned bucket, its versions with Restore.
 * `close()` closes them. Returns true once shown.
 */
async function objectDetails(bucket, key, box, refresh, close) {
  const path = enc(bucket, false) + '/' + enc(key);
  const head = await gw('HEAD', path, { accept: [404] });
  if (head.status === 404) return deletedDetails(bucket, key, box, refresh, close);
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
    if (await guarded(() => gw('DELETE', path))) { notice(`Renamed ${key} to ${to}.`); await refresh(); close(); }
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
    if (!(await guarded(() => gw('DELETE', path)))) return;
    notice(`Deleted ${key}.${versioned ? ' Restore brings it back.' : ''}`);
    // In a versioned bucket the details stay, as those of the deleted key (with Restore).
    if (versioned) await versionChanged(); else { await refresh(); close(); }
  }, { class: 'danger', id: 'delete-object' });
  const versionChanged = () => detailsAgain(bucket, key, box, refresh, close);
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
    shareOut, versions, proof, closeButton(close)));
  box.scrollIntoView({ block: 'nearest' });
  showError(null);
  return true;
}

const closeButton = (close) => el('div', { class: 'row' }, button('Close details', close, { id: 'close-details' }), el('span', { class: 'muted' }, 'or Escape'));

/**
 * The details read again after a change (a version deleted, the key deleted or restored),
 * the focus on their heading (the button pressed is gone); gone if no version is left.
 */
async function detailsAgain(bucket, key, box, refresh, close) {
  refresh();
  try {
    await objectDetails(bucket, key, box, refresh, close);
    focusHeading(box);
  } catch (e) {
    close();
    if (e.status !== 404) showError(e);
  }
}

/**
 * A deleted key of a versioned bucket (its latest entry a delete marker): its versions,
 * with Restore. Any other missing key is the gateway's 404.
 */
async function deletedDetails(bucket, key, box, refresh, close) {
  const versions = await versionsPanel(bucket, key, () => detailsAgain(bucket, key, box, refresh, close));
  if (!versions || versions.dataset.latest !== 'marker') throw await errorOf(404, '');
  box.replaceChildren(el('div', { class: 'panel', id: 'object-details', 'data-deleted': 'true' },
    el('h2', {}, 'Deleted object'),
    el('dl', { id: 'object-facts' }, el('dt', {}, 'Key'), el('dd', { id: 'detail-key' }, key)),
    el('p', { class: 'muted' }, 'The latest entry of this key is a delete marker: it is not listed among the objects, and its versions are kept.'),
    versions, closeButton(close)));
  box.scrollIntoView({ block: 'nearest' });
  showError(null);
  return true;
}

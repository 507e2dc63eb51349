// An object's versions in a versioned bucket: its versions and delete markers, newest
// first (ListObjectVersions), each downloadable and deletable by its version id; a key
// whose latest entry is a delete marker can be restored (its delete markers removed, so
// the version before them is current again). Also the deleted keys of a prefix.
import { gw, xml, enc, downloadUrl } from './api.js';
import { el, button, guarded, confirmAction, bytes, table, notice } from './ui.js';

const text = (node, sel) => node.querySelector(sel)?.textContent ?? '';

/** Whether versioning is on (or was: a suspended bucket keeps its versions). */
export async function versioned(bucket) {
  const doc = await xml('GET', enc(bucket, false), { query: { versioning: '' } });
  return ['Enabled', 'Suspended'].includes(text(doc, 'VersioningConfiguration > Status'));
}

const entryOf = (v) => ({
  key: text(v, 'Key'), marker: v.localName === 'DeleteMarker', id: text(v, 'VersionId'), latest: text(v, 'IsLatest') === 'true',
  modified: text(v, 'LastModified'), size: text(v, 'Size'), etag: text(v, 'ETag'),
});

/**
 * The entries of one ListObjectVersions answer in listing order: keys in order, each key's
 * entries newest first. The answer carries all delete markers before all versions (each
 * kind in listing order), so the two are merged back by key, then latest, then time.
 */
function entriesOf(doc) {
  const all = [...doc.documentElement.children].filter((c) => c.localName === 'Version' || c.localName === 'DeleteMarker').map(entryOf);
  const rank = all.map((e, i) => ({ e, i, t: Date.parse(e.modified) || 0 }));
  rank.sort((a, b) => (a.e.key < b.e.key ? -1 : a.e.key > b.e.key ? 1 : 0) || (b.e.latest - a.e.latest) || (b.t - a.t)
    || (a.e.marker === b.e.marker ? a.i - b.i : 0));
  return rank.map((r) => r.e);
}

/** Every version and delete marker of exactly `key`, newest first. */
async function versionsOf(bucket, key) {
  const out = [];
  let marker = null;
  for (;;) {
    const query = { versions: '', prefix: key, 'max-keys': '1000' };
    if (marker) { query['key-marker'] = marker.key; if (marker.version) query['version-id-marker'] = marker.version; }
    const doc = await xml('GET', enc(bucket, false), { query });
    // The prefix also matches longer keys ("a" and "a/b"): only this key's entries count.
    out.push(...entriesOf(doc).filter((v) => v.key === key));
    const next = { key: text(doc, 'ListVersionsResult > NextKeyMarker'), version: text(doc, 'ListVersionsResult > NextVersionIdMarker') };
    // Keys list in order and this key is the first with its prefix: once the next page
    // starts at another key, every entry of this one was seen.
    if (text(doc, 'ListVersionsResult > IsTruncated') !== 'true' || next.key !== key) return out;
    marker = next;
  }
}

/**
 * One page of the deleted keys under `prefix`: the keys whose latest entry is a delete
 * marker (ListObjectVersions, `max` entries read), the folders (with a delimiter, as
 * they may hold some), and where the next page starts (null: none).
 */
export async function deletedPage(bucket, prefix, start, delimiter, max) {
  const query = { versions: '', prefix, 'max-keys': String(max) };
  if (delimiter) query.delimiter = '/';
  if (start) { query['key-marker'] = start.key; if (start.version) query['version-id-marker'] = start.version; }
  const doc = await xml('GET', enc(bucket, false), { query });
  const entries = entriesOf(doc);
  const truncated = text(doc, 'ListVersionsResult > IsTruncated') === 'true';
  return {
    folders: [...doc.querySelectorAll('ListVersionsResult > CommonPrefixes > Prefix')].map((p) => p.textContent),
    deleted: entries.filter((e) => e.marker && e.latest),
    read: entries.length,
    next: truncated ? { key: text(doc, 'ListVersionsResult > NextKeyMarker'), version: text(doc, 'ListVersionsResult > NextVersionIdMarker') } : null,
  };
}

/**
 * The versions section of an object's details, or null when the bucket is not versioned.
 * `changed()` runs after a version is deleted or the key restored (the listing and the
 * details may change). The section's `data-latest` says what the key's latest entry is:
 * `version`, `marker` (the key is deleted) or empty (no entry).
 */
export async function versionsPanel(bucket, key, changed) {
  if (!(await versioned(bucket))) return null;
  const box = el('div', { id: 'versions' });
  const list = await versionsOf(bucket, key);
  const path = enc(bucket, false) + '/' + enc(key);
  box.dataset.latest = list.length ? (list[0].marker ? 'marker' : 'version') : '';
  // The delete markers above the newest version: removing them all makes it current.
  const markers = [];
  for (const v of list) { if (!v.marker) break; markers.push(v); }
  const back = list[markers.length];
  let restore = null;
  if (markers.length && back) {
    restore = el('div', { class: 'row', id: 'restore' },
      button('Restore', async () => {
        const done = await guarded(async () => {
          for (const m of markers) await gw('DELETE', path, { query: { versionId: m.id } });
          return true;
        });
        if (done) { notice(`Restored ${key}: version ${back.id} is current again.`); changed(); }
      }, { class: 'primary', id: 'restore-object', 'aria-label': `Restore ${key}` }),
      el('span', { class: 'muted' }, `Removes the delete marker${markers.length > 1 ? 's' : ''} above version ${back.id} (${back.modified}), which becomes current again.`));
  } else if (markers.length) {
    restore = el('p', { class: 'muted', id: 'restore' }, 'Only delete markers are left: there is no version to restore.');
  }
  box.replaceChildren(el('h2', {}, 'Versions'), el('p', { class: 'muted' }, `${list.filter((v) => !v.marker).length} versions and ${list.filter((v) => v.marker).length} delete markers, newest first.`), restore, table([
    ['Version', (v) => el('span', { class: 'mono version-id' }, v.id)],
    ['Latest', (v) => (v.latest ? 'latest' : '')],
    ['Kind', (v) => (v.marker ? 'delete marker' : 'version')],
    ['Modified', (v) => v.modified],
    ['Size', (v) => (v.marker ? '' : bytes(v.size))],
    ['', (v) => el('span', {},
      v.marker ? '' : el('a', { href: downloadUrl(bucket, key, v.id), download: key.split('/').pop(), class: 'version-download', 'aria-label': `Download version ${v.id}` }, 'Download'), ' ',
      button('Delete', async () => {
        const what = v.marker ? 'the delete marker' : 'the version';
        if (!(await confirmAction(`Delete ${what} ${v.id} of "${key}" for good?`))) return;
        if (await guarded(() => gw('DELETE', path, { query: { versionId: v.id } }))) {
          notice(`Deleted ${what} ${v.id} of ${key}.`);
          changed();
        }
      }, { class: 'danger version-delete', 'aria-label': `Delete ${v.marker ? 'delete marker' : 'version'} ${v.id}` }))],
  ], list, { id: 'version-table' }));
  return box;
}

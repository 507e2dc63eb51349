// An object's versions in a versioned bucket: its versions and delete markers, newest
// first (ListObjectVersions), each downloadable and deletable by its version id.
import { gw, xml, enc, downloadUrl } from './api.js';
import { el, button, guarded, confirmAction, bytes, table, notice } from './ui.js';

const text = (node, sel) => node.querySelector(sel)?.textContent ?? '';

/** Whether versioning is on (or was: a suspended bucket keeps its versions). */
async function versioned(bucket) {
  const doc = await xml('GET', enc(bucket, false), { query: { versioning: '' } });
  return ['Enabled', 'Suspended'].includes(text(doc, 'VersioningConfiguration > Status'));
}

/** Every version and delete marker of exactly `key`, in the gateway's order (newest first). */
async function versionsOf(bucket, key) {
  const out = [];
  let marker = null;
  for (;;) {
    const query = { versions: '', prefix: key, 'max-keys': '1000' };
    if (marker) { query['key-marker'] = marker.key; query['version-id-marker'] = marker.version; }
    const doc = await xml('GET', enc(bucket, false), { query });
    // Versions and delete markers interleave in the answer's order, which is newest first per key.
    const entries = [...doc.documentElement.children].filter((c) => c.localName === 'Version' || c.localName === 'DeleteMarker');
    for (const v of entries) {
      // The prefix also matches longer keys ("a" and "a/b"): only this key's entries count.
      if (text(v, 'Key') !== key) continue;
      out.push({
        marker: v.localName === 'DeleteMarker', id: text(v, 'VersionId'), latest: text(v, 'IsLatest') === 'true',
        modified: text(v, 'LastModified'), size: text(v, 'Size'), etag: text(v, 'ETag'),
      });
    }
    const last = entries.at(-1);
    if (text(doc, 'ListVersionsResult > IsTruncated') !== 'true' || !last || text(last, 'Key') !== key) return out;
    marker = { key: text(doc, 'ListVersionsResult > NextKeyMarker'), version: text(doc, 'ListVersionsResult > NextVersionIdMarker') };
  }
}

/**
 * The versions section of an object's details, or null when the bucket is not versioned.
 * `changed()` runs after a version is deleted (the listing and the details may change).
 */
export async function versionsPanel(bucket, key, changed) {
  if (!(await versioned(bucket))) return null;
  const box = el('div', { id: 'versions' });
  async function show() {
    const list = await versionsOf(bucket, key);
    const path = enc(bucket, false) + '/' + enc(key);
    box.replaceChildren(el('h2', {}, 'Versions'), el('p', { class: 'muted' }, `${list.filter((v) => !v.marker).length} versions and ${list.filter((v) => v.marker).length} delete markers, newest first.`), table([
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
  }
  await show();
  return box;
}

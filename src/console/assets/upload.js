// Uploads: file picker and drag and drop, several files at once, each with a progress bar
// and a cancel button; files over 16 MiB go in 8 MiB parts (multipart upload).
import { gw, send, enc, errorOf } from './api.js';
import { el, button, bytes, showError } from './ui.js';

const SINGLE_MAX = 16 * 1024 * 1024;
const PART = 8 * 1024 * 1024;

/** The upload box of `bucket`; files land under `prefix()`; `done()` refreshes the listing. */
export function uploader(bucket, prefix, done) {
  const input = el('input', { type: 'file', multiple: true, id: 'file-input' });
  const list = el('div', { id: 'uploads' });
  // The keyboard's way in is the file input (Tab, then Enter or Space): the drop zone
  // itself is for the mouse and takes no focus.
  const drop = el('div', { class: 'drop', id: 'drop-zone' }, 'Drop files here, or ', el('label', {}, 'choose files', input));
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => { ev.preventDefault(); drop.classList.remove('over'); start([...ev.dataTransfer.files]); });
  input.addEventListener('change', () => { start([...input.files]); input.value = ''; });

  function start(files) {
    for (const f of files) upload(f);
  }

  async function upload(file) {
    const key = prefix() + file.name;
    const bar = el('progress', { max: String(file.size || 1), value: '0' });
    const status = el('span', { class: 'muted upload-status' }, 'starting');
    let cancelled = false;
    let current = null;
    let uploadId = null;
    const cancel = button('Cancel', async () => {
      cancelled = true;
      if (current) current.abort();
    }, { class: 'danger' });
    const row = el('div', { class: 'upload', 'data-key': key }, el('span', { class: 'mono' }, key), bar, status, cancel);
    list.append(row);
    const path = enc(bucket, false) + '/' + enc(key);
    const type = file.type || 'application/octet-stream';
    try {
      if (file.size <= SINGLE_MAX) {
        current = send('PUT', path, null, file, { 'content-type': type }, (n) => { bar.value = n; status.textContent = `${bytes(n)} of ${bytes(file.size)}`; });
        await current.done;
      } else {
        const created = await gw('POST', path, { query: { uploads: '' }, headers: { 'content-type': type } });
        uploadId = new DOMParser().parseFromString(await created.text(), 'application/xml').querySelector('UploadId').textContent;
        const parts = [];
        for (let n = 1, off = 0; off < file.size; n++, off += PART) {
          if (cancelled) throw new Error('Cancelled.');
          const blob = file.slice(off, Math.min(off + PART, file.size));
          current = send('PUT', path, { partNumber: String(n), uploadId }, blob, {}, (sent) => {
            bar.value = off + sent;
            status.textContent = `${bytes(off + sent)} of ${bytes(file.size)} (part ${n})`;
          });
          const xhr = await current.done;
          parts.push([n, xhr.getResponseHeader('etag')]);
        }
        const body = '<CompleteMultipartUpload>' + parts.map(([n, e]) => `<Part><PartNumber>${n}</PartNumber><ETag>${e.replace(/[<>&]/g, '')}</ETag></Part>`).join('') + '</CompleteMultipartUpload>';
        const resp = await gw('POST', path, { query: { uploadId }, body, headers: { 'content-type': 'application/xml' } });
        // S3 may answer 200 with an error document after a long completion.
        const text = await resp.text();
        if (text.includes('<Error>')) throw await errorOf(500, text);
      }
      bar.value = file.size || 1;
      status.textContent = `uploaded (${bytes(file.size)})`;
      status.className = 'good upload-status';
      cancel.disabled = true;
      done();
    } catch (e) {
      status.textContent = e.message;
      status.className = 'bad upload-status';
      cancel.disabled = true;
      if (uploadId) {
        // Leave no parts behind: a cancelled or failed multipart upload is aborted.
        try { await gw('DELETE', path, { query: { uploadId } }); } catch (abortErr) { showError(abortErr); }
      }
      if (!cancelled) showError(new Error(`Upload of ${key} failed: ${e.message}`));
    }
  }

  return el('div', { class: 'panel' }, el('h2', {}, 'Upload'), drop, list);
}

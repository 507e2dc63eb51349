// Provenance: an object's manifests shown readably, verified by the gateway's proof API
// (the signed tree head that includes each, or an old manifest's own signature, and the
// chain), and a page that checks a local file by its SHA-256, hashed in the browser (the
// file is never uploaded).
import { json, enc } from './api.js';
import { el, button, guarded, bytes, showError } from './ui.js';

function verdict(ok, yes, no) {
  return el('span', { class: ok ? 'good' : 'bad' }, ok ? yes : no);
}

function manifestFacts(m) {
  return el('dl', { class: 'manifest' },
    el('dt', {}, 'Operation'), el('dd', {}, m.op),
    el('dt', {}, 'Time'), el('dd', {}, m.created),
    el('dt', {}, 'SHA-256'), el('dd', { class: 'sha256' }, m.sha256),
    el('dt', {}, 'Size'), el('dd', {}, `${bytes(m.size)} (${m.size} bytes)`),
    el('dt', {}, 'Object'), el('dd', {}, `${m.bucket}/${m.key}`),
    m.version_id ? [el('dt', {}, 'Version'), el('dd', {}, m.version_id)] : [],
    m.encryption ? [el('dt', {}, 'Encrypted at rest'), el('dd', {}, m.encryption)] : [],
    el('dt', {}, 'Written by'), el('dd', {}, m.principal),
    el('dt', {}, 'Chain'), el('dd', {}, `tenant ${m.tenant}, position ${m.seq}`),
    el('dt', {}, 'Previous'), el('dd', {}, m.prev || '(first)'),
    el('dt', {}, m.v === 2 ? 'Its log signed with' : 'Signed with'), el('dd', {}, m.key_id),
    el('dt', {}, 'Proof id'), el('dd', {}, m.id),
  );
}

/** Verifies a digest with the gateway: each matching manifest's signature and chain. */
async function verifyDigest(sha256) {
  const v = await json('POST', '_tollgate/proofs/verify', { query: { sha256 } });
  if (!v.matches.length) return el('p', { class: 'bad', id: 'verify-result' }, `No manifest records a body with SHA-256 ${sha256}.`);
  return el('div', { id: 'verify-result' }, v.matches.map((c) => el('p', {},
    `${c.manifest.op} of ${c.manifest.bucket}/${c.manifest.key} at ${c.manifest.created}: `,
    c.proved_by === 'log' ? 'included in its signed tree head, its signature ' : 'signature ',
    verdict(c.signature_valid, 'valid', 'INVALID'), ', chain ', verdict(c.chain_intact, 'intact', 'BROKEN'), '.')));
}

/** The manifests of an object, newest first, with a verify button each. */
export async function proofPanel(bucket, key) {
  const list = await json('GET', `_tollgate/proofs/object/${enc(bucket, false)}/${enc(key)}`);
  if (!list.length) return el('p', { class: 'muted' }, 'No proof manifest records this object (proofs may be off).');
  const items = list.slice().reverse().map((m) => {
    const out = el('div');
    return el('div', { class: 'panel' }, manifestFacts(m), button('Verify', () => guarded(async () => out.replaceChildren(await verifyDigest(m.sha256))), { class: 'verify' }), out);
  });
  return el('div', { id: 'proof-panel' }, el('h2', {}, 'Provenance'), items);
}

/** Checks a local file against the manifests: hashed here, only its digest is sent. */
export async function proofFileView() {
  const input = el('input', { type: 'file', id: 'verify-file' });
  const out = el('div');
  const drop = el('div', { class: 'drop', id: 'verify-drop' }, 'Drop a file here, or ', el('label', {}, 'choose one', input));
  async function check(file) {
    if (!globalThis.crypto?.subtle) {
      showError(new Error('This browser offers no SHA-256 here (the page must be reached over HTTPS or on localhost).'));
      return;
    }
    out.replaceChildren(el('p', { class: 'muted' }, `Hashing ${file.name} (${bytes(file.size)}) in the browser…`));
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
    out.replaceChildren(el('p', {}, 'SHA-256 ', el('span', { class: 'mono' }, hex)), await verifyDigest(hex));
  }
  input.addEventListener('change', () => input.files[0] && guarded(() => check(input.files[0])));
  drop.addEventListener('dragover', (ev) => ev.preventDefault());
  drop.addEventListener('drop', (ev) => { ev.preventDefault(); if (ev.dataTransfer.files[0]) guarded(() => check(ev.dataTransfer.files[0])); });
  return el('div', {}, el('h1', {}, 'Verify a file'), el('p', {}, 'The file is hashed in this browser; only its SHA-256 goes to the gateway, which answers with the manifests that record it and checks their signatures and chain.'), drop, out);
}

// DOM helpers. Every text from the gateway (keys, metadata, tags, messages) goes in
// through textContent, never as markup.

/** An element with attributes (on* handlers are refused) and children (strings become text). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) throw new Error('handlers are added with addEventListener');
    if (k === 'text') e.textContent = String(v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Shows the current page again (after a change). */
export const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));

/** A button calling `fn` on click. */
export function button(label, fn, attrs = {}) {
  const b = el('button', { type: 'button', ...attrs }, label);
  b.addEventListener('click', (ev) => { ev.preventDefault(); fn(ev); });
  return b;
}

/**
 * A one-row form: `fields` are [name, label, attrs] (attrs.options: a select), the
 * submit button says `label`; `onSubmit` gets the trimmed values, its error shown.
 */
export function form(id, fields, label, onSubmit) {
  const inputs = {};
  const f = el('form', { class: 'row', id });
  for (const [name, title, attrs] of fields) {
    const input = attrs?.options
      ? el('select', { name }, attrs.options.map((o) => el('option', { value: o }, o || 'any')))
      : el('input', { name, ...(attrs || {}) });
    inputs[name] = input;
    f.append(el('label', {}, title, input));
  }
  f.append(el('button', { type: 'submit', class: 'primary' }, label));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value.trim()]));
    await guarded(() => onSubmit(v));
  });
  return f;
}

/** Shows an error in words (and logs it); `null` hides it. */
export function showError(err) {
  const box = document.getElementById('error');
  if (!err) { box.hidden = true; box.textContent = ''; return; }
  box.textContent = err instanceof Error ? err.message : String(err);
  box.hidden = false;
  if (err instanceof Error && !err.gateway) console.error(err);
}

/** Shows a short notice. */
export function notice(msg) {
  const box = document.getElementById('notice');
  box.textContent = msg || '';
  box.hidden = !msg;
}

/** Runs an action, showing its error if it fails; returns its result or undefined. */
export async function guarded(fn) {
  try {
    showError(null);
    return await fn();
  } catch (e) {
    showError(e);
    return undefined;
  }
}

/**
 * Asks for confirmation in the page's own dialog (modal: Tab stays in it, Escape or Cancel
 * answer no). Focus goes back to where it was, if that is still in the page.
 */
export function confirmAction(text) {
  const d = document.getElementById('confirm-dialog');
  document.getElementById('confirm-text').textContent = text;
  const back = document.activeElement;
  return new Promise((resolve) => {
    d.addEventListener('close', () => {
      if (back && back !== document.body && back.isConnected) back.focus();
      resolve(d.returnValue === 'ok');
    }, { once: true });
    d.returnValue = 'cancel';
    d.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

/**
 * Moves the keyboard focus to the first heading of `node` (made focusable from script
 * only), so that after a page or panel is shown, Tab continues from there.
 */
export function focusHeading(node) {
  const h = node?.querySelector('h1, h2');
  if (!h) return;
  h.tabIndex = -1;
  h.focus();
}

/** Whether the keyboard focus was lost (its element removed or hidden, or none yet). */
export function focusLost() {
  const a = document.activeElement;
  return !a || a === document.body || !a.isConnected || a.closest('[hidden]') !== null;
}

/** Bytes in human units. */
export function bytes(n) {
  n = Number(n);
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
}

/** A nanosecond timestamp (number or string) as an ISO time. */
export function timeNs(ns) {
  if (ns === undefined || ns === null || ns === '' || Number(ns) === 0) return '';
  return new Date(Number(BigInt(ns) / 1000000n)).toISOString();
}

/** A table of `rows` with `columns` ([title, row => cell (string or Node)]). */
export function table(columns, rows, attrs = {}) {
  const head = el('tr', {}, columns.map(([t]) => el('th', {}, t)));
  const body = document.createDocumentFragment();
  for (const r of rows) body.append(el('tr', {}, columns.map(([, f]) => el('td', {}, f(r) ?? ''))));
  return el('table', attrs, el('thead', {}, head), el('tbody', {}, body));
}

/** Copies text to the clipboard, saying so. */
export async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    notice('Copied to the clipboard.');
  } catch {
    notice('The browser refused the clipboard: select the text and copy it.');
  }
}

/**
 * Saves `text` as a file named `name`, made in the browser (a Blob behind an object URL
 * that a download link opens: no request leaves the page, no inline script).
 */
export function saveFile(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own reference by now; the URL would only hold the Blob in memory.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// The console's entry: sign-in, the session, and the page each address (#/...) shows.
import { session, consoleCall, whenSignedOut } from './api.js';
import { showError, notice, guarded, el, focusHeading, focusLost } from './ui.js';
import { bucketsView, objectsView } from './objects.js';
import { adminView } from './admin.js';
import { proofFileView } from './proof.js';

const $ = (id) => document.getElementById(id);

function signedIn(v) {
  session.csrf = v.csrf;
  session.who = v.who;
  const w = v.who;
  $('who').textContent = `${w.user} (${w.root ? 'root' : w.role}) in ${w.tenant} · ${w.access_key}`;
  $('nav').hidden = false;
  $('sign-out').hidden = false;
  $('nav-admin').hidden = !(w.root || w.role === 'admin');
  $('signin-view').hidden = true;
  $('app-view').hidden = false;
}

function signedOut(reason) {
  session.csrf = '';
  session.who = null;
  $('who').textContent = '';
  $('nav').hidden = true;
  $('sign-out').hidden = true;
  $('app-view').hidden = true;
  $('app-view').replaceChildren();
  $('signin-view').hidden = false;
  lastHash = '';
  if (reason) showError(reason);
  $('signin-key').focus();
}

whenSignedOut((err) => signedOut(err));

/** The address of the page shown last; none after a sign-out, so the next sign-in starts clean. */
let lastHash = '';

/** Shows the page of the address. */
export async function route() {
  if (!session.who) return;
  const view = $('app-view');
  const hash = decodeURIComponent(location.hash.replace(/^#/, '')) || '/buckets';
  // A page shown again after a change keeps the change's notice; another page starts clean.
  if (hash !== lastHash) { showError(null); notice(''); }
  lastHash = hash;
  const parts = hash.split('/').slice(1);
  let page;
  if (parts[0] === 'b' && parts[1]) page = objectsView(parts[1], parts.slice(2).join('/'));
  else if (parts[0] === 'admin') page = adminView(parts[1] || 'tenants');
  else if (parts[0] === 'proof-file') page = proofFileView();
  else page = bucketsView();
  view.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  const node = await guarded(() => page);
  view.replaceChildren(node || el('p', { class: 'muted' }, 'This page could not be shown (see the message above).'));
  // The link or button that led here is gone with the old page: the keyboard goes on from
  // the new page's heading rather than from the top of the document.
  if (focusLost()) focusHeading(view);
}

/** "Skip to content": to the heading of what is shown (the address stays: it is the page's route). */
function skipToContent(ev) {
  ev.preventDefault();
  const shown = [$('signin-view'), $('app-view')].find((v) => !v.hidden);
  if (shown?.querySelector('h1, h2')) focusHeading(shown);
  else $('main').focus();
}

async function start() {
  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = $('signin-key'), secret = $('signin-secret');
    const body = { access_key: key.value.trim(), secret_key: secret.value };
    // The secret leaves the page's memory as soon as it is sent.
    secret.value = '';
    const v = await guarded(() => consoleCall('POST', 'session', body));
    if (v) { signedIn(v); route(); }
  });
  $('sign-out').addEventListener('click', async () => {
    await guarded(() => consoleCall('DELETE', 'session'));
    signedOut();
    notice('Signed out.');
  });
  $('skip-link').addEventListener('click', skipToContent);
  window.addEventListener('hashchange', route);
  try {
    signedIn(await consoleCall('GET', 'session'));
    route();
  } catch (e) {
    signedOut(e.status === 401 ? null : e);
  }
}

start();

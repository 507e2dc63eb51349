// Administration for root and tenant admins, through the admin API's own endpoints (the
// gateway decides, as for `tollgate admin`): tenants, users, keys, quotas and usage, audit;
// topics and limits, health and jobs are in ops.js.
import { json, gw, enc, session, ADMIN as A } from './api.js';
import { el, button, form, guarded, confirmAction, table, bytes, timeNs, notice, copy, saveFile, reload } from './ui.js';
import { jobs, health, topics, drawChart } from './ops.js';

// [page, title, root only]
const TABS = [['tenants', 'Tenants'], ['users', 'Users'], ['keys', 'Keys'], ['buckets', 'Buckets'], ['quotas', 'Usage and quotas'], ['topics', 'Topics and limits'],
  ['audit', 'Audit log'], ['health', 'Health'], ['jobs', 'Jobs', true]];

const tenantScope = () => (session.who.root ? [['tenant', 'Tenant', { placeholder: 'all tenants' }]] : []);
const scopeQuery = (v) => (v.tenant ? { tenant: v.tenant } : {});

async function tenants() {
  const list = await json('GET', A + 'tenants');
  const parts = [];
  if (session.who.root) {
    parts.push(form('create-tenant', [['name', 'New tenant', { required: true }]], 'Create tenant', async (v) => {
      await json('POST', A + 'tenants', { body: { name: v.name } });
      notice(`Tenant ${v.name} created.`); reload();
    }));
  }
  parts.push(table([
    ['Tenant', (t) => t.name], ['Created', (t) => timeNs(t.created_ns)],
    ['Quota', (t) => `${t.quota.max_bytes ? bytes(t.quota.max_bytes) : 'no byte limit'}, ${t.quota.max_objects || 'no object limit'}`],
    ['', (t) => (session.who.root && t.name !== 'root' ? button('Delete', async () => {
      if (!(await confirmAction(`Delete the tenant "${t.name}"?`))) return;
      if (await guarded(() => json('DELETE', A + 'tenants/' + enc(t.name, false)))) reload();
    }, { class: 'danger' }) : '')],
  ], list, { id: 'tenant-table' }));
  return parts;
}

async function users() {
  const mine = session.who.tenant;
  const list = await json('GET', A + 'users');
  return [
    form('create-user', [['tenant', 'Tenant', { value: mine, required: true }], ['name', 'User', { required: true }], ['role', 'Role', { options: ['reader', 'writer', 'admin'] }]], 'Create user', async (v) => {
      await json('POST', A + 'users', { body: v });
      notice(`User ${v.tenant}/${v.name} created: give it a key on the Keys page.`); reload();
    }),
    table([
      ['Tenant', (u) => u.tenant], ['User', (u) => u.name], ['Role', (u) => u.role], ['Created', (u) => timeNs(u.created_ns)],
      ['', (u) => button('Delete', async () => {
        if (!(await confirmAction(`Delete the user "${u.tenant}/${u.name}" and all its keys?`))) return;
        if (await guarded(() => json('DELETE', A + `users/${enc(u.tenant, false)}/${enc(u.name, false)}`))) reload();
      }, { class: 'danger' })],
    ], list, { id: 'user-table' }),
  ];
}

async function keys() {
  const list = await json('GET', A + 'keys');
  const shown = el('div', { id: 'new-key' });
  return [
    form('create-key', [['tenant', 'Tenant', { value: session.who.tenant, required: true }], ['user', 'User', { required: true }]], 'Create key', async (v) => {
      const k = await json('POST', A + 'keys', { body: v });
      // The secret is shown this once: the gateway keeps it sealed and never shows it again.
      shown.replaceChildren(el('div', { class: 'secret' },
        el('p', {}, el('strong', {}, 'Copy the secret now: it is shown this once.')),
        el('dl', {}, el('dt', {}, 'Access key'), el('dd', { id: 'new-access-key' }, k.access_key), el('dt', {}, 'Secret key'), el('dd', { id: 'new-secret-key' }, k.secret_key)),
        button('Copy secret', () => copy(k.secret_key)), ' ', button('Done', () => reload())));
    }),
    shown,
    table([
      ['Access key', (k) => el('span', { class: 'mono' }, k.access_key)], ['Tenant', (k) => k.tenant], ['User', (k) => k.user],
      ['Enabled', (k) => (k.enabled ? 'yes' : 'no')], ['Last used', (k) => timeNs(k.last_used_ns)],
      ['', (k) => el('span', {},
        button(k.enabled ? 'Disable' : 'Enable', async () => {
          if (await guarded(() => json('POST', A + `keys/${enc(k.access_key, false)}/${k.enabled ? 'disable' : 'enable'}`))) reload();
        }), ' ',
        button('Delete', async () => {
          if (!(await confirmAction(`Delete the key ${k.access_key}? Whatever uses it stops working at once.`))) return;
          if (await guarded(() => json('DELETE', A + 'keys/' + enc(k.access_key, false)))) reload();
        }, { class: 'danger' }))],
    ], list, { id: 'key-table' }),
  ];
}

async function buckets() {
  const list = await json('GET', A + 'buckets');
  return [
    el('p', { class: 'muted' }, 'Public-read buckets can be listed and read by anyone, without a key; writes stay with the tenant.'),
    table([
      ['Bucket', (b) => b.name], ['Tenant', (b) => b.tenant], ['Objects', (b) => String(b.objects)], ['Bytes', (b) => bytes(b.bytes)],
      ['Visibility', (b) => b.visibility],
      ['', (b) => {
        const to = b.visibility === 'public-read' ? 'private' : 'public-read';
        return button(to === 'private' ? 'Make private' : 'Make public-read', async () => {
          if (to === 'public-read' && !(await confirmAction(`Let anyone, without a key, list and read the bucket "${b.name}"?`))) return;
          if (await guarded(() => json('PUT', A + 'buckets/' + enc(b.name, false), { body: { visibility: to } }))) { notice(`Bucket ${b.name} is now ${to}.`); reload(); }
        }, { class: 'visibility' });
      }],
    ], list, { id: 'admin-bucket-table' }),
  ];
}

async function quotas() {
  const usage = await json('GET', A + 'usage');
  const parts = [];
  const q = (v) => ({ max_bytes: Number(v.max_bytes || 0), max_objects: Number(v.max_objects || 0) });
  if (session.who.root) {
    parts.push(form('tenant-quota', [['tenant', 'Tenant', { required: true }], ['max_bytes', 'Max bytes (0: none)', { type: 'number', min: 0, value: 0 }], ['max_objects', 'Max objects (0: none)', { type: 'number', min: 0, value: 0 }]], 'Set tenant quota', async (v) => {
      await json('PUT', A + 'quotas/tenant/' + enc(v.tenant, false), { body: q(v) });
      notice(`Quota of tenant ${v.tenant} set.`); reload();
    }));
  }
  parts.push(form('bucket-quota', [['bucket', 'Bucket', { required: true }], ['max_bytes', 'Max bytes (0: none)', { type: 'number', min: 0, value: 0 }], ['max_objects', 'Max objects (0: none)', { type: 'number', min: 0, value: 0 }]], 'Set bucket quota', async (v) => {
    await json('PUT', A + 'quotas/bucket/' + enc(v.bucket, false), { body: q(v) });
    notice(`Quota of bucket ${v.bucket} set.`); reload();
  }));
  const lim = (quota) => `${quota.max_bytes ? bytes(quota.max_bytes) : '∞'} / ${quota.max_objects || '∞'} objects`;
  for (const t of usage) {
    parts.push(el('h2', {}, `Tenant ${t.tenant}: ${bytes(t.bytes)} in ${t.objects} objects (quota ${lim(t.quota)})`));
    parts.push(table([['Bucket', (b) => b.bucket], ['Objects', (b) => String(b.objects)], ['Bytes', (b) => bytes(b.bytes)], ['Quota', (b) => lim(b.quota)]], t.buckets, { class: 'usage-table' }));
  }
  parts.push(await usageOverTime(usage));
  return parts;
}

/** Charts of each tenant's and bucket's bytes over the usage history (the usage_history
 * job's samples, one an hour by default), for the tenants `usage` shows. */
async function usageOverTime(usage) {
  const history = await json('GET', A + 'usage/history');
  const section = el('section', { id: 'usage-history' }, el('h2', {}, 'Usage over time'));
  if (!history.length) {
    section.append(el('p', { class: 'muted' }, 'No usage history yet: the usage_history job records a sample every jobs.usage_history_interval_secs (an hour by default).'));
    return section;
  }
  const since = timeNs(history[0].at_ns);
  section.append(el('p', { class: 'muted' }, `${history.length} samples since ${since}.`));
  const chart = (id, title, pick) => {
    const box = el('figure', { class: 'chart-box', id });
    drawChart(box, title, 'bytes', history.map((h) => pick(h)?.bytes ?? 0), bytes);
    return box;
  };
  for (const t of usage) {
    const charts = [chart(`usage-chart-tenant-${t.tenant}`, `Tenant ${t.tenant}`, (h) => h.tenants[t.tenant])];
    for (const b of t.buckets) charts.push(chart(`usage-chart-bucket-${b.bucket}`, `Bucket ${b.bucket}`, (h) => h.buckets[b.bucket]));
    section.append(el('div', { class: 'charts' }, charts));
  }
  return section;
}

/** Audit entries as CSV: one line each, every field quoted; a field a spreadsheet would
 * run as a formula (starting with =, +, -, @, a tab or CR) is prefixed with ' (keys and
 * names are anyone's text). */
function auditCsv(rows) {
  const cols = ['time', 'time_ns', 'operation', 'outcome', 'tenant', 'user', 'principal', 'bucket', 'key', 'version_id', 'bytes', 'count', 'source', 'request_id', 'decided_by'];
  const cell = (v) => {
    let t = v === undefined || v === null ? '' : String(v);
    if (/^[=+\-@\t\r]/.test(t)) t = "'" + t;
    return '"' + t.replace(/"/g, '""') + '"';
  };
  return [cols.join(','), ...rows.map((e) => cols.map((c) => cell(c === 'time' ? timeNs(e.time_ns) : e[c])).join(','))].join('\r\n') + '\r\n';
}

async function audit() {
  const out = el('div', { id: 'audit-out' });
  const toNs = (s) => (s ? String(BigInt(Date.parse(s)) * 1000000n) : '');
  const SHOWN = 500;
  let rows = [];
  const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');
  const exports = el('div', { class: 'row', id: 'audit-export' },
    button('Export JSON', () => saveFile(`audit-${stamp()}.json`, 'application/json', JSON.stringify(rows, null, 2) + '\n'), { id: 'audit-export-json' }),
    button('Export CSV', () => saveFile(`audit-${stamp()}.csv`, 'text/csv', auditCsv(rows)), { id: 'audit-export-csv' }),
    el('span', { class: 'muted' }, 'Exports every matching entry, newest first.'));
  async function load(v) {
    // The log answers oldest first, up to `limit` (10,000 at most): the newest are shown first.
    const query = { limit: v.limit || '10000' };
    for (const k of ['tenant', 'principal', 'bucket', 'outcome']) if (v[k]) query[k] = v[k];
    if (v.since) query.since_ns = toNs(v.since);
    if (v.until) query.until_ns = toNs(v.until);
    // Nanosecond times exceed a JavaScript number's precision: read as strings, exactly.
    const raw = await (await gw('GET', A + 'audit', { query })).text();
    let found = JSON.parse(raw.replace(/"time_ns":(-?\d+)/g, '"time_ns":"$1"'));
    const fetched = found.length;
    if (v.operation) found = found.filter((e) => e.operation.toLowerCase().includes(v.operation.toLowerCase()));
    rows = found.reverse();
    const more = fetched >= Number(query.limit) ? ' The log holds more: narrow the time range to see later entries.' : '';
    out.replaceChildren(el('p', { class: 'muted' }, `${rows.length} matching entries${rows.length > SHOWN ? `, the newest ${SHOWN} shown` : ''}.${more}`), table([
      ['Time', (e) => timeNs(e.time_ns)], ['Operation', (e) => e.operation], ['Outcome', (e) => e.outcome],
      ['Principal', (e) => `${e.tenant}/${e.user} ${e.principal}`], ['Object', (e) => [e.bucket, e.key].filter(Boolean).join('/')],
      ['Source', (e) => e.source], ['Request', (e) => e.request_id],
    ], rows.slice(0, SHOWN), { id: 'audit-table' }));
  }
  const f = form('audit-filter', [...tenantScope(), ['principal', 'Principal (access key)'], ['bucket', 'Bucket'], ['operation', 'Operation'],
    ['outcome', 'Outcome', { options: ['', 'ok', 'denied', 'throttled', 'error'] }],
    ['since', 'From', { type: 'datetime-local' }], ['until', 'To', { type: 'datetime-local' }], ['limit', 'Read at most', { type: 'number', value: 10000, min: 1, max: 10000 }]], 'Show', load);
  await load({});
  return [f, exports, out];
}

const PAGES = { tenants, users, keys, buckets, quotas, topics, audit, health, jobs };

/** The administration page `tab`. */
export async function adminView(tab) {
  const tabs = TABS.filter(([, , rootOnly]) => !rootOnly || session.who.root);
  const nav = el('nav', { class: 'row' }, tabs.map(([id, t]) => (id === tab ? el('strong', { 'aria-current': 'page' }, t) : el('a', { href: '#/admin/' + id, id: 'admin-' + id }, t))));
  const body = await (PAGES[tab] || tenants)();
  return el('div', { id: 'admin-view' }, el('h1', {}, 'Administration'), nav, body);
}

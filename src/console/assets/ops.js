// Operations pages of the administration: background jobs (root), the gateway's health
// (/ready's checks, and request rate and latency sampled from /metrics, drawn as small
// SVG charts), and a tenant's topics, rate limits and quotas (read-only).
import { json, gw, enc, session, errorOf, ADMIN as A } from './api.js';
import { el, button, form, guarded, table, bytes, timeNs, notice, reload, showError } from './ui.js';

/** A duration in seconds in words. */
function every(secs) {
  if (!secs) return 'on demand only';
  for (const [n, unit] of [[86400, 'day'], [3600, 'hour'], [60, 'minute']]) {
    if (secs % n === 0) return `every ${secs / n} ${unit}${secs === n ? '' : 's'}`;
  }
  return `every ${secs} seconds`;
}

function jobResult(j) {
  if (j.running) return el('span', {}, 'running now');
  if (j.last_ok === null || j.last_ok === undefined) return el('span', { class: 'muted' }, 'no run finished yet');
  if (!j.last_ok) return el('span', { class: 'bad' }, `failed: ${j.last_error || 'no reason given'}`);
  const changed = j.last_outcome ? `, ${j.last_outcome.changed} changed` : '';
  return el('span', { class: 'good' }, `ok in ${j.last_duration_ms} ms${changed}`);
}

/** Each background job with its last run, result and next run, and a Run now button (root). */
export async function jobs() {
  const list = await json('GET', A + 'jobs');
  return [
    el('p', { class: 'muted' }, `Runs counted since the gateway started (${list.length} jobs). A run started here waits for a scheduled run of the same job to end.`),
    table([
      ['Job', (j) => j.name], ['Schedule', (j) => every(j.interval_secs)],
      ['Last run', (j) => timeNs(j.last_started_ns) || 'never'], ['Result', jobResult],
      ['Runs', (j) => `${j.runs} (${j.failures} failed)`], ['Next run', (j) => timeNs(j.next_run_ns) || 'not scheduled'],
      ['', (j) => button('Run now', async (ev) => {
        ev.target.disabled = true;
        ev.target.textContent = 'Running…';
        const outcome = await guarded(() => json('POST', A + `jobs/${enc(j.name, false)}/run`));
        if (outcome) { notice(`Job ${j.name} ran: ${outcome.changed} changed.`); reload(); } else { ev.target.disabled = false; ev.target.textContent = 'Run now'; }
      }, { class: 'run-job', 'aria-label': `Run ${j.name} now` })],
    ], list, { id: 'job-table' }),
  ];
}

const SVG = 'http://www.w3.org/2000/svg';
/** Samples kept per chart (two minutes at one every 2 s). */
const KEEP = 60;
const EVERY_MS = 2000;

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** A small line chart of `values` (no library: one polyline scaled to the largest value),
 * said in words too; `show` writes a value (default: two decimals and `unit`). */
export function drawChart(box, title, unit, values, show = (v) => `${v.toFixed(2)} ${unit}`) {
  const w = 300, h = 80;
  const max = Math.max(...values, 0);
  const y = (v) => (max > 0 ? h - 2 - (v / max) * (h - 4) : h - 2);
  const points = values.map((v, i) => `${((i * w) / Math.max(values.length - 1, 1)).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const now = values.length ? values.at(-1) : 0;
  const words = `${title}: ${show(now)} now, ${show(max)} at most over the last ${values.length} samples`;
  const chart = svg('svg', { viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: 'none', class: 'chart', role: 'img', 'aria-label': words, 'data-samples': values.length });
  chart.append(svg('line', { x1: 0, y1: h - 1, x2: w, y2: h - 1, class: 'chart-axis' }), svg('polyline', { points, class: 'chart-line' }));
  box.replaceChildren(el('h3', {}, title), chart, el('p', { class: 'muted' }, words));
}

/** Each sample's sums of the counters the charts need, from Prometheus text. */
function parseMetrics(text) {
  const sums = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{.*\})?\s+(\S+)/.exec(line);
    const v = m && Number(m[2]);
    if (m && Number.isFinite(v)) sums[m[1]] = (sums[m[1]] || 0) + v;
  }
  return { requests: sums.tollgate_requests_total || 0, seconds: sums.tollgate_request_duration_seconds_sum || 0, timed: sums.tollgate_request_duration_seconds_count || 0 };
}

const READY_CHECKS = [['metadata', 'Metadata store', 'takes a durable write'], ['backend', 'Storage backend', 'answers']];

/** `/ready`'s checks in words (a 503 is the answer that says what is not ready). */
async function readiness(box) {
  const resp = await gw('GET', 'ready', { accept: [503] });
  const text = await resp.text();
  let v;
  // Another 503 (not /ready's own answer) is shown as the error it is.
  try { v = JSON.parse(text); } catch { throw await errorOf(resp.status, text); }
  const failed = v.failed || {};
  const ready = v.status === 'ready';
  box.replaceChildren(
    el('p', {}, el('span', { class: ready ? 'good' : 'bad' }, ready ? 'Ready: the gateway can serve.' : 'Not ready: the gateway cannot serve now.')),
    el('ul', {}, READY_CHECKS.map(([k, name, what]) => el('li', {}, `${name} ${what}: `,
      failed[k] ? el('span', { class: 'bad' }, `no (${failed[k]})`) : el('span', { class: 'good' }, 'yes')))),
    el('p', { class: 'muted' }, `Checked at ${new Date().toISOString()}.`));
}

/** The gateway's readiness, and its request rate and latency sampled while the page is open. */
export async function health() {
  const checks = el('div', { id: 'ready-checks' });
  const rateBox = el('figure', { id: 'rate-chart', class: 'chart-box' });
  const latencyBox = el('figure', { id: 'latency-chart', class: 'chart-box' });
  const root = el('div', { id: 'health' }, el('h2', {}, 'Readiness'), checks, button('Check again', () => guarded(() => readiness(checks)), { id: 'check-ready' }),
    el('h2', {}, 'Traffic'), el('p', { class: 'muted' }, `Every request the gateway served (this page's own samples too), from its /metrics, sampled every ${EVERY_MS / 1000} s while this page is open.`),
    el('div', { class: 'charts' }, rateBox, latencyBox));
  await readiness(checks);
  const rates = [], latencies = [];
  let last = { at: performance.now(), ...parseMetrics(await (await gw('GET', 'metrics')).text()) };
  drawChart(rateBox, 'Requests per second', 'req/s', rates);
  drawChart(latencyBox, 'Mean latency', 'ms', latencies);
  // One sample at a time, the next one 2 s after the last; none once the page was left.
  const sample = async () => {
    if (!root.isConnected) return;
    try {
      const now = { at: performance.now(), ...parseMetrics(await (await gw('GET', 'metrics')).text()) };
      const secs = (now.at - last.at) / 1000;
      const timed = now.timed - last.timed;
      rates.push(Math.max(0, now.requests - last.requests) / secs);
      latencies.push(timed > 0 ? ((now.seconds - last.seconds) / timed) * 1000 : 0);
      if (rates.length > KEEP) { rates.shift(); latencies.shift(); }
      last = now;
      drawChart(rateBox, 'Requests per second', 'req/s', rates);
      drawChart(latencyBox, 'Mean latency', 'ms', latencies);
    } catch (e) {
      // Shown, without hiding another page error as guarded() would on each success.
      showError(e);
    }
    setTimeout(sample, EVERY_MS);
  };
  setTimeout(sample, EVERY_MS);
  return root;
}

const WRITE_MODES = {
  'single-auth': 'only the owner, one current object each (replaced under If-Match)',
  'single-open': 'any signed caller, one current object per owner (replaced under If-Match)',
  'append-auth': 'only the owner, objects immutable',
  'append-open': 'any signed caller (a mailbox to the owner), objects immutable',
};
const READ_MODES = { auth: 'the owner and the tenant\'s admins', open: 'any signed caller', public: 'anyone, anonymous included' };
const RATES = [['read_requests', 'Read requests (GET, HEAD, lists)', '/s'], ['write_requests', 'Other requests', '/s'], ['read_bytes', 'Bytes read', 'bytes'], ['write_bytes', 'Bytes written', 'bytes']];

function rate(n, unit) {
  if (!n) return 'unlimited';
  return unit === 'bytes' ? `${bytes(n)}/s` : `${n}/s`;
}

/** A tenant's topics (of one bucket, or all), rate limits and quotas, read-only. */
export async function topics() {
  const out = el('div', { id: 'topics-out' });
  async function load(v) {
    const tenant = v.tenant || session.who.tenant;
    const [owned, rules, limits, usage] = await Promise.all([
      json('GET', A + 'buckets', { query: { tenant } }),
      json('GET', A + 'topics', { query: v.bucket ? { bucket: v.bucket } : {} }),
      json('GET', A + `limits/tenant/${enc(tenant, false)}`),
      json('GET', A + 'usage', { query: { tenant } }),
    ]);
    const mine = new Set(owned.map((b) => b.name));
    const shown = rules.filter((r) => mine.has(r.bucket));
    const quota = (q) => `${q.max_bytes ? bytes(q.max_bytes) : 'no byte limit'}, ${q.max_objects ? q.max_objects + ' objects' : 'no object limit'}`;
    const t = usage.find((u) => u.tenant === tenant);
    const bucketQuotas = (t ? t.buckets : []).filter((b) => !v.bucket || b.bucket === v.bucket);
    out.replaceChildren(
      el('h2', {}, `Topics${v.bucket ? ` of ${v.bucket}` : ` of tenant ${tenant}`}`),
      shown.length ? table([
        ['Bucket', (r) => r.bucket], ['Topic', (r) => r.topic + '/'], ['Who writes', (r) => WRITE_MODES[r.write] || r.write], ['Who reads', (r) => READ_MODES[r.read] || r.read],
        ['Rules', (r) => [r.content_addressed ? 'names are the SHA-256 of the body' : '', r.max_size ? `at most ${bytes(r.max_size)}` : '',
          r.content_types?.length ? `types: ${r.content_types.join(', ')}` : ''].filter(Boolean).join('; ') || 'none beyond the gateway\'s'],
      ], shown, { id: 'topic-table' }) : el('p', { class: 'muted', id: 'topic-table' }, 'No topic here.'),
      el('h2', {}, `Rate limits of tenant ${tenant}`),
      el('p', { class: 'muted' }, limits.override ? 'Set for this tenant (tollgate admin limits).' : 'The configured defaults ([limits] tenant): nothing is set for this tenant.'),
      table([['Limit', ([, name]) => name], ['In force', ([k, , unit]) => rate(limits.effective[k], unit)]], RATES, { id: 'limits-table' }),
      el('h2', {}, `Quotas of tenant ${tenant}`),
      el('p', { id: 'tenant-quota' }, t ? `The tenant: ${quota(t.quota)} (${bytes(t.bytes)} in ${t.objects} objects stored).` : 'No usage is known for this tenant.'),
      table([['Bucket', (b) => b.bucket], ['Quota', (b) => quota(b.quota)], ['Stored', (b) => `${bytes(b.bytes)} in ${b.objects} objects`]], bucketQuotas, { id: 'bucket-quota-table' }),
    );
  }
  const f = form('topics-filter', [...(session.who.root ? [['tenant', 'Tenant', { value: session.who.tenant }]] : []), ['bucket', 'Bucket', { placeholder: 'every bucket' }]], 'Show', load);
  await load({});
  return [el('p', { class: 'muted' }, 'Read-only: topics are set with tollgate admin topic, limits with tollgate admin limits, quotas on the Usage and quotas page.'), f, out];
}

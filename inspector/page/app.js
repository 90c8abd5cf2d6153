// The inspector page: state charts of every machine actor, live from /inspector/stream; the fleet,
// load distribution and open alerts from the API (GETs only: the page changes nothing); the event
// log with filters. The token comes from the URL fragment (#token=...) or a form, kept in this tab.
import { drawMachine, instantiate, setActive } from './chart.js';
import { openStream } from './stream.js';

/**
 * @typedef {import('../protocol.ts').ActorInfo} ActorInfo
 * @typedef {import('../protocol.ts').SnapshotInfo} SnapshotInfo
 * @typedef {import('../protocol.ts').LogEntry} LogEntry
 * @typedef {import('../protocol.ts').StreamMessage} StreamMessage
 * @typedef {import('../protocol.ts').MachineGraph} MachineGraph
 * @typedef {import('./chart.js').ChartInstance} ChartInstance
 * @typedef {{ info: ActorInfo, card: HTMLElement, state: HTMLElement,
 *   chart: ChartInstance | null, snapshot: SnapshotInfo | null }} ActorView
 * @typedef {{ phone: string, state: string, detail: string | null, reason: string | null,
 *   load: { inFlight: number, queued: number, completed: number, failed: number, avgLatencyMs: number | null } }} MasterRow
 * @typedef {{ phone: string, share: number, inFlight: number, tokens: number, ratePerMinute: number,
 *   routable: boolean }} LoadRow
 * @typedef {{ strategy: string, quality: number, distribution: LoadRow[] }} BalancerView
 * @typedef {{ id: string, severity: string, message: string, master?: string, createdAt: string }} Alert
 */

const TOKEN_KEY = 'switchboard.inspector.token';
const MAX_LOG = 2_000;
const MAX_ROWS = 300;
/** Beyond this many charts of one machine, cards show their state only until the filter narrows them. */
const MAX_CHARTS_PER_MACHINE = 48;
const FINISHED = new Set(['done', 'error', 'stopped']);

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} missing from the page`);
  return node;
};

// --- token -----------------------------------------------------------------------------------

takeTokenFromFragment();

/** #token=... is read once, kept in sessionStorage, and removed from the address bar and history. */
function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const t = params.get('token');
  if (t === null) return;
  sessionStorage.setItem(TOKEN_KEY, t);
  history.replaceState(null, '', location.pathname + location.search);
}

/** @returns {Record<string, string>} */
function authHeaders() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** @type {(() => void)[]} */
let tokenWaiters = [];

/** Shows the token form; resolves once a token was entered. */
function waitForToken() {
  const form = /** @type {HTMLFormElement} */ ($('auth'));
  form.hidden = false;
  return new Promise((resolve) => tokenWaiters.push(() => resolve(undefined)));
}

$('auth').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('token'));
  sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  input.value = '';
  $('auth').hidden = true;
  const waiters = tokenWaiters;
  tokenWaiters = [];
  for (const w of waiters) w();
});

/**
 * @param {string} path
 * @returns {Promise<{ status: number, body: any }>}
 */
async function getJSON(path) {
  try {
    const res = await fetch(path, {
      headers: { accept: 'application/json', ...authHeaders() },
      cache: 'no-store',
    });
    const body = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
    return { status: res.status, body };
  } catch {
    return { status: 0, body: null };
  }
}

// --- charts ----------------------------------------------------------------------------------

/** @type {Map<string, SVGSVGElement>} */
const templates = new Map();
/** @type {Map<string, HTMLElement>} */
const groups = new Map();
/** @type {Map<string, ActorView>} */
const actors = new Map();

/** @param {MachineGraph[]} machines */
async function prepareCharts(machines) {
  const elk = new ELK();
  const container = $('chart-groups');
  for (const m of machines) {
    const section = document.createElement('section');
    section.className = 'group';
    section.dataset.machine = m.id;
    const title = document.createElement('h3');
    title.textContent = m.id === 'failover' ? 'failover incidents' : m.id;
    const cards = document.createElement('div');
    cards.className = 'cards';
    section.append(title, cards);
    container.append(section);
    groups.set(m.id, cards);
  }
  await Promise.all(
    machines.map(async (m) => {
      try {
        templates.set(m.id, await drawMachine(m, elk));
      } catch (err) {
        console.error(`layout of ${m.id} failed`, err);
      }
    }),
  );
}

/** @param {ActorInfo} info */
function addActor(info) {
  const existing = actors.get(info.session);
  if (existing) return existing;
  const card = document.createElement('article');
  card.className = 'card';
  card.dataset.actor = info.label;
  card.dataset.machine = info.machine;
  card.dataset.session = info.session;
  const head = document.createElement('header');
  const name = document.createElement('span');
  name.className = 'label';
  name.textContent = info.label;
  const state = document.createElement('span');
  state.className = 'state-text';
  head.append(name, state);
  card.append(head);
  /** @type {ActorView} */
  const view = { info, card, state, chart: null, snapshot: null };
  actors.set(info.session, view);
  const group = groups.get(info.machine);
  if (!group) return view;
  // Newest incident first; everything else in the order it appeared.
  if (info.machine === 'failover') group.prepend(card);
  else group.append(card);
  const shown = group.querySelectorAll('svg.chart').length;
  if (shown < MAX_CHARTS_PER_MACHINE) ensureChart(view);
  else card.classList.add('no-chart');
  applyFilter(view);
  return view;
}

/** @param {ActorView} view */
function ensureChart(view) {
  if (view.chart) return;
  const template = templates.get(view.info.machine);
  if (!template) return;
  view.chart = instantiate(template);
  view.card.classList.remove('no-chart');
  view.card.append(view.chart.svg);
  if (view.snapshot) setActive(view.chart, view.snapshot.value);
}

/**
 * @param {unknown} value
 * @returns {string}
 */
function stateText(value) {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) => {
        const inner = stateText(v);
        return inner ? `${k}.${inner}` : k;
      })
      .join(', ');
  }
  return '';
}

/** @param {SnapshotInfo} s */
function applySnapshot(s) {
  const view = actors.get(s.session);
  if (!view) return;
  view.snapshot = s;
  // A machine without states (the supervisor) has the value {}: its status says enough.
  const text = stateText(s.value);
  view.state.textContent = !text ? s.status : FINISHED.has(s.status) ? `${text} (${s.status})` : text;
  view.card.dataset.state = text;
  view.card.dataset.status = s.status;
  view.card.classList.toggle('finished', FINISHED.has(s.status));
  if (view.chart) setActive(view.chart, s.value);
}

function resetActors() {
  actors.clear();
  for (const g of groups.values()) g.replaceChildren();
}

const chartFilter = /** @type {HTMLInputElement} */ ($('chart-filter'));
chartFilter.addEventListener('input', () => {
  for (const view of actors.values()) applyFilter(view);
});

/** @param {ActorView} view */
function applyFilter(view) {
  const q = chartFilter.value.trim().toLowerCase();
  const match = !q || view.info.label.toLowerCase().includes(q);
  view.card.hidden = !match;
  if (match && q && !view.chart) ensureChart(view);
}

// --- event log -------------------------------------------------------------------------------

/** @type {LogEntry[]} */
let log = [];
let boot = '';
let lastSeq = 0;
let dropped = 0;
const actorFilter = /** @type {HTMLSelectElement} */ ($('filter-actor'));
const typeFilter = /** @type {HTMLSelectElement} */ ($('filter-type'));
const eventRows = /** @type {HTMLTableSectionElement} */ (document.querySelector('#events tbody'));

/**
 * @param {HTMLSelectElement} select
 * @param {string | null} value
 */
function offerOption(select, value) {
  if (!value || [...select.options].some((o) => o.value === value)) return;
  const option = document.createElement('option');
  option.value = value;
  option.textContent = value;
  const after = [...select.options].slice(1).find((o) => o.value.localeCompare(value) > 0);
  select.add(option, after ?? null);
}

/** @param {LogEntry} e */
function matches(e) {
  const actor = actorFilter.value;
  const type = typeFilter.value;
  return (!actor || e.target === actor || e.source === actor) && (!type || e.type === type);
}

/** @param {LogEntry} e */
function row(e) {
  const tr = document.createElement('tr');
  tr.dataset.type = e.type;
  const { type: _type, ...payload } = /** @type {Record<string, unknown>} */ (e.event ?? {});
  const json = JSON.stringify(payload);
  const cells = [
    new Date(e.at).toISOString().slice(11, 23),
    e.source ?? '(outside)',
    e.target,
    e.type,
    json === '{}' ? '' : json.length > 200 ? `${json.slice(0, 200)}…` : json,
  ];
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c;
    tr.append(td);
  }
  return tr;
}

/** @param {LogEntry[]} entries */
function appendEvents(entries) {
  const fresh = entries.filter((e) => e.seq > lastSeq);
  if (!fresh.length) return;
  lastSeq = fresh[fresh.length - 1]?.seq ?? lastSeq;
  log.push(...fresh);
  if (log.length > MAX_LOG) log = log.slice(log.length - MAX_LOG);
  for (const e of fresh) {
    offerOption(actorFilter, e.target);
    offerOption(actorFilter, e.source);
    offerOption(typeFilter, e.type);
  }
  const rows = fresh.filter(matches).reverse().map(row);
  eventRows.prepend(...rows);
  while (eventRows.rows.length > MAX_ROWS) eventRows.deleteRow(-1);
  updateCounts();
}

function renderLog() {
  const rows = log.filter(matches).slice(-MAX_ROWS).reverse().map(row);
  eventRows.replaceChildren(...rows);
}

actorFilter.addEventListener('change', renderLog);
typeFilter.addEventListener('change', renderLog);

function updateCounts() {
  $('counts').textContent = `${actors.size} actors, ${lastSeq} events`;
  $('log-status').textContent = dropped ? `${dropped} events not recorded (too many at once)` : '';
}

// --- stream ----------------------------------------------------------------------------------

/** @param {unknown} data */
function onMessage(data) {
  const msg = /** @type {StreamMessage} */ (data);
  if (msg.type === 'hello') {
    if (msg.boot !== boot) {
      // A new process: its sequence numbers start again.
      boot = msg.boot;
      lastSeq = 0;
      log = [];
      dropped = 0;
      eventRows.replaceChildren();
    }
    resetActors();
    for (const a of msg.actors) addActor(a);
    for (const s of msg.snapshots) applySnapshot(s);
    appendEvents(msg.events);
  } else if (msg.type === 'batch') {
    for (const a of msg.actors) addActor(a);
    for (const s of msg.snapshots) applySnapshot(s);
    dropped += msg.dropped;
    appendEvents(msg.events);
  }
  updateCounts();
}

/**
 * @param {import('./stream.js').StreamStatus} status
 * @param {string} [detail]
 */
function onStatus(status, detail) {
  const pill = $('connection');
  pill.dataset.status = status;
  pill.textContent = status === 'live' ? 'live' : status;
  pill.title = detail ?? '';
  document.body.dataset.connection = status;
}

// --- fleet, distribution, alerts (polled from the API) --------------------------------------

async function refreshOverview() {
  const [masters, balancer] = await Promise.all([getJSON('/api/masters'), getJSON('/api/balancer')]);
  /** @type {BalancerView | null} */
  const b = balancer.status === 200 ? balancer.body : null;
  if (masters.status === 200) renderFleet(masters.body.masters, b);
  if (b) renderDistribution(b);
}

/**
 * @param {MasterRow[]} masters
 * @param {BalancerView | null} balancer
 */
function renderFleet(masters, balancer) {
  const body = /** @type {HTMLTableSectionElement} */ (document.querySelector('#fleet tbody'));
  const loads = new Map((balancer?.distribution ?? []).map((d) => [d.phone, d]));
  const rows = masters.map((m) => {
    const tr = document.createElement('tr');
    tr.dataset.phone = m.phone;
    tr.dataset.state = m.state;
    const load = loads.get(m.phone);
    const cells = [
      m.phone,
      m.detail ? `${m.state} (${m.detail})` : m.state,
      m.reason ?? '',
      String(m.load.inFlight),
      String(m.load.queued),
      String(m.load.completed),
      String(m.load.failed),
      m.load.avgLatencyMs === null ? '' : `${m.load.avgLatencyMs} ms`,
      load ? `${load.tokens} of ${load.ratePerMinute}/min` : '',
    ];
    cells.forEach((c, i) => {
      const td = document.createElement('td');
      td.textContent = c;
      if (i === 1) td.className = `state-${m.state}`;
      if (i >= 3) td.classList.add('num');
      tr.append(td);
    });
    return tr;
  });
  body.replaceChildren(...rows);
}

/** @param {BalancerView} b */
function renderDistribution(b) {
  $('balance').textContent = `strategy ${b.strategy}, balance quality ${b.quality}/100`;
  const svg = $('distribution');
  const SVG = 'http://www.w3.org/2000/svg';
  const barHeight = 18;
  const labelWidth = 150;
  const barWidth = 360;
  svg.setAttribute(
    'viewBox',
    `0 0 ${labelWidth + barWidth + 120} ${b.distribution.length * (barHeight + 6) + 6}`,
  );
  svg.setAttribute('height', String(b.distribution.length * (barHeight + 6) + 6));
  const items = b.distribution.map((d, i) => {
    const y = 6 + i * (barHeight + 6);
    const g = document.createElementNS(SVG, 'g');
    g.setAttribute('class', d.routable ? 'bar' : 'bar unroutable');
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('x', '0');
    label.setAttribute('y', String(y + 13));
    label.textContent = d.phone;
    const track = document.createElementNS(SVG, 'rect');
    track.setAttribute('class', 'track');
    track.setAttribute('x', String(labelWidth));
    track.setAttribute('y', String(y));
    track.setAttribute('width', String(barWidth));
    track.setAttribute('height', String(barHeight));
    const bar = document.createElementNS(SVG, 'rect');
    bar.setAttribute('class', 'fill');
    bar.setAttribute('x', String(labelWidth));
    bar.setAttribute('y', String(y));
    bar.setAttribute('width', String(Math.max(0, Math.min(1, d.share)) * barWidth));
    bar.setAttribute('height', String(barHeight));
    const value = document.createElementNS(SVG, 'text');
    value.setAttribute('x', String(labelWidth + barWidth + 8));
    value.setAttribute('y', String(y + 13));
    value.textContent = `${(d.share * 100).toFixed(1)}%, ${d.inFlight} in flight`;
    g.append(label, track, bar, value);
    return g;
  });
  svg.replaceChildren(...items);
}

async function refreshAlerts() {
  const res = await getJSON('/api/alerts?state=open');
  const section = $('alerts');
  // The monitor serves /api/alerts; without it (404) there is nothing to show.
  if (res.status !== 200 || !Array.isArray(res.body?.alerts)) {
    if (res.status === 404) section.hidden = true;
    return;
  }
  section.hidden = false;
  /** @type {Alert[]} */
  const alerts = res.body.alerts;
  const items = alerts.map((a) => {
    const li = document.createElement('li');
    li.className = `severity-${a.severity}`;
    li.textContent = `${a.severity}: ${a.message}${a.master ? ` (${a.master})` : ''}, since ${a.createdAt}`;
    return li;
  });
  if (!items.length) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = 'none';
    items.push(li);
  }
  $('alert-list').replaceChildren(...items);
}

/**
 * Runs `task` now and every `ms` after it finishes.
 * @param {() => Promise<void>} task
 * @param {number} ms
 */
function every(task, ms) {
  const loop = async () => {
    await task().catch((err) => console.error(err));
    setTimeout(loop, ms);
  };
  loop();
}

// --- start -----------------------------------------------------------------------------------

async function main() {
  /** @type {{ status: number, body: any }} */
  let res = await getJSON('/inspector/machines.json');
  while (res.status !== 200) {
    if (res.status === 401 || res.status === 403) {
      onStatus('unauthorized');
      await waitForToken();
    } else {
      onStatus('reconnecting', `machines.json: HTTP ${res.status}`);
      await new Promise((r) => setTimeout(r, 2_000));
    }
    res = await getJSON('/inspector/machines.json');
  }
  await prepareCharts(res.body.machines);
  openStream({ url: '/inspector/stream', headers: authHeaders, onMessage, onStatus, waitForToken });
  every(refreshOverview, 2_000);
  every(refreshAlerts, 5_000);
}

main();

// mliot dashboard. Renders GET /api/state once, then follows GET /api/events
// (Server-Sent Events): a `state` event every second re-renders, the other
// event types go to the event log. Rows are keyed by name and updated in
// place, so a state costs only the text that changed; charts are made when
// they first come into view. Server text only ever reaches the page through
// textContent / setAttribute, never as HTML.
'use strict';

const EVENT_CAP = 200;      // rows kept in the event log
const LOAD_HISTORY = 120;   // load samples kept per node: 2 minutes at one state a second
const STALE_MS = 5000;      // states come every second: this long without a message means a dead stream
const RETRY_MS = 2000;
const LOG_TYPES = ['prediction', 'version', 'feedback', 'adaptation', 'placement'];
const DASH = '–';

const $ = (sel) => document.querySelector(sel);

// ---------------------------------------------------------------- helpers

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);  // strings become text nodes, never markup
  return e;
}

// Writes only what changed: most cells are the same from one second to the
// next, and an untouched node costs no style or layout work.
function setText(e, value) {
  const s = String(value);
  if (e.textContent !== s) e.textContent = s;
}

function setAttr(e, name, value) {
  const s = String(value);
  if (e.getAttribute(name) !== s) e.setAttribute(name, s);
}

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
const list = (v) => (Array.isArray(v) ? v : []);
const text = (v) => (v === null || v === undefined || v === '' ? DASH : String(v));
const fmtNum = (v, digits) => (isNum(v) ? v.toFixed(digits) : DASH);
const fmtPct = (fraction) => (isNum(fraction) ? (fraction * 100).toFixed(1) + ' %' : DASH);
const pad2 = (n) => String(n).padStart(2, '0');

function fmtTime(ms) {
  if (!isNum(ms)) return DASH;
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function fmtDateTime(ms) {
  if (!isNum(ms)) return DASH;
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${fmtTime(ms)}`;
}

function fmtBytes(v) {
  if (!isNum(v)) return DASH;
  const units = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  for (; v >= 1000 && i < units.length - 1; i++) v /= 1000;
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// One view ({el, ...}) per key, per container.
const views = new WeakMap();

// Keeps the children of `parent` in step with `items`, in their order: a view
// is made once per key by create(item, key), refreshed by update(view, item),
// and removed (and disposed) when its key is gone. A table's thead stays first.
function syncList(parent, items, keyOf, create, update) {
  const old = views.get(parent) || new Map();
  const next = new Map();
  for (const item of items) {
    const key = String(keyOf(item));
    if (next.has(key)) continue;  // a duplicate name: show it once
    const view = old.get(key) || create(item, key);
    update(view, item);
    next.set(key, view);
  }
  for (const [key, view] of old) {
    if (next.has(key)) continue;
    view.el.remove();
    if (view.dispose) view.dispose();
  }
  // Moves only what is out of place: in the usual second nothing moves.
  let cursor = parent.tHead ? parent.tHead.nextElementSibling : parent.firstElementChild;
  for (const view of next.values()) {
    if (view.el === cursor) cursor = cursor.nextElementSibling;
    else parent.insertBefore(view.el, cursor);
  }
  views.set(parent, next);
}

// For short lists without keys (placements, refusals, a task's events):
// rebuilt, but only when their content changed.
function replaceIfChanged(container, items, makeChild) {
  const sig = JSON.stringify(items);
  if (container.dataset.sig === sig) return;
  container.dataset.sig = sig;
  container.replaceChildren(...items.map(makeChild));
}

function row(cells) {
  return el('tr', null, ...cells.map((c) => el('td', null, c)));
}

// ---------------------------------------------------------------- nodes

const loadHistory = new Map();  // node name -> {t: [unix s], load: [..]}
let lastSampleMs = 0;

// History is kept per state, not per render, so a sparkline that scrolls
// into view already has its last two minutes.
function recordLoad(nodes, nowMs) {
  if (!(nowMs > lastSampleMs)) return;  // the first fetch and the stream may bring the same state
  lastSampleMs = nowMs;
  for (const n of nodes) {
    let h = loadHistory.get(n.name);
    if (!h) loadHistory.set(n.name, (h = { t: [], load: [] }));
    h.t.push(nowMs / 1000);
    h.load.push(isNum(n.load) ? n.load : null);
    if (h.t.length > LOAD_HISTORY) { h.t.shift(); h.load.shift(); }
  }
}

// Sparklines are drawn only while on screen: a hundred charts redrawn every
// second would cost more than the rest of the page.
const sparkOf = new WeakMap();  // cell -> spark
const sparkObserver = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const spark = sparkOf.get(entry.target);
    if (!spark) continue;
    spark.visible = entry.isIntersecting;
    if (spark.visible) drawSpark(spark);
  }
});

function sparkOptions() {
  return {
    width: 120, height: 26,
    pxAlign: false,
    cursor: { show: false }, select: { show: false }, legend: { show: false },
    scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(1, max || 0)] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: '#2563eb', width: 1, fill: 'rgba(37, 99, 235, 0.12)', spanGaps: true, points: { show: false } }],
  };
}

function drawSpark(spark) {
  const h = loadHistory.get(spark.name);
  if (!window.uPlot || !h) return;
  const data = [h.t, h.load];
  if (spark.chart) spark.chart.setData(data);
  else spark.chart = new uPlot(sparkOptions(), data, spark.cell);
}

function endpointsText(ep) {
  if (!ep || typeof ep !== 'object') return '';
  return Object.entries(ep).map(([k, v]) => `${k}: ${v}`).join('\n');
}

function createNode(node, name) {
  const cols = ['name', 'alive', 'cores', 'cpu', 'mem', 'load', 'spark', 'rtt', 'tasks'];
  const cells = {};
  const tr = el('tr', { 'data-node': name });
  for (const c of cols) tr.append((cells[c] = el('td', { class: `c-${c}` })));
  const nameEl = el('span', { class: 'name' });
  const addrEl = el('span', { class: 'sub' });
  cells.name.append(nameEl, addrEl);
  const spark = { name, cell: cells.spark, chart: null, visible: false };
  sparkOf.set(cells.spark, spark);
  sparkObserver.observe(cells.spark);
  return {
    el: tr, cells, nameEl, addrEl, spark,
    dispose() {
      sparkObserver.unobserve(cells.spark);
      if (spark.chart) spark.chart.destroy();
      loadHistory.delete(name);
    },
  };
}

function updateNode(v, n) {
  const c = v.cells;
  setText(v.nameEl, text(n.name));
  setText(v.addrEl, n.address ? String(n.address) : '');
  setAttr(c.name, 'title', endpointsText(n.endpoints));
  setAttr(v.el, 'data-alive', n.alive ? 'true' : 'false');
  setText(c.alive, n.alive ? 'yes' : 'no');
  setText(c.cores, text(n.cores));
  setText(c.cpu, fmtNum(n.cpu, 1));
  setText(c.mem, fmtNum(n.mem, 1));
  setText(c.load, fmtNum(n.load, 2));
  setText(c.rtt, fmtNum(n.rtt_ms, 1));
  setText(c.tasks, list(n.tasks).join(', '));
  if (v.spark.visible) drawSpark(v.spark);
}

// ---------------------------------------------------------------- tasks

function taskChartOptions() {
  const pct = (u, vals) => vals.map((v) => (v == null ? '' : v.toFixed(0)));
  const value = (digits) => (u, v) => (v == null ? DASH : v.toFixed(digits));
  return {
    width: 520, height: 200,
    scales: {
      x: { time: false },
      // Around the data rather than 0..100: versions differ by a point or two.
      pct: { range: (u, min, max) => (min == null ? [0, 100]
        : [Math.max(0, Math.floor(min - 5)), Math.min(100, Math.ceil(max + 2))]) },
      ms: { range: (u, min, max) => [0, (max > 0 ? max : 1) * 1.15] },  // serving latency is often well under 1 ms
    },
    series: [
      { label: 'version', value: (u, v) => (v == null ? DASH : String(v)) },
      { label: 'validation %', scale: 'pct', stroke: '#2563eb', width: 2, spanGaps: true, value: value(1) },
      { label: 'feedback %', scale: 'pct', stroke: '#16a34a', width: 2, spanGaps: true, value: value(1) },
      { label: 'latency ms', scale: 'ms', stroke: '#dc2626', width: 1.5, dash: [5, 4], spanGaps: true, value: value(3) },
    ],
    axes: [
      { label: 'version', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] },  // whole versions only
      { scale: 'pct', label: 'accuracy %', values: pct },
      { scale: 'ms', label: 'latency ms', side: 1, grid: { show: false } },
    ],
  };
}

function drawTaskChart(v) {
  if (!window.uPlot || !v.task) return;
  const vs = list(v.task.versions).filter((x) => isNum(x.version)).sort((a, b) => a.version - b.version);
  const pct = (f) => (isNum(f) ? f * 100 : null);
  const data = [
    vs.map((x) => x.version),
    vs.map((x) => pct(x.validation_accuracy)),
    vs.map((x) => pct(x.feedback_accuracy)),
    vs.map((x) => (isNum(x.latency_ms) ? x.latency_ms : null)),
  ];
  if (v.chart) v.chart.setData(data);
  else v.chart = new uPlot(taskChartOptions(), data, v.chartEl);
}

function tableWithHead(headers) {
  const body = el('tbody');
  const table = el('table', { class: 'inner' },
    el('thead', null, el('tr', null, ...headers.map((h) => el('th', null, h)))), body);
  return { table, body };
}

function createTask(task, name) {
  const cells = {};
  const main = el('tr', { 'data-task': name });
  for (const c of ['name', 'node', 'state', 'version', 'training', 'pinned', 'message', 'serving']) {
    main.append((cells[c] = el('td', { class: `c-${c}` })));
  }
  const toggle = el('button', { type: 'button', class: 'toggle', 'aria-expanded': 'false', 'data-task-toggle': name }, name);
  const stateEl = el('span', { class: 'state' });
  const versionEl = el('span', { 'data-task-version': name });
  cells.name.append(toggle);
  cells.state.append(stateEl);
  cells.version.append(versionEl);

  const versions = tableWithHead(['version', 'state', 'origin', 'created', 'validation', 'feedback', 'latency ms']);
  const placements = tableWithHead(['node', 'when', 'why']);
  const refusals = el('ul', { class: 'plain' });
  const events = el('ol', { class: 'plain task-events' });
  const chartEl = el('div', { class: 'chart' });
  const detail = el('tr', { class: 'detail', hidden: '' }, el('td', { colspan: '8' },
    el('div', { class: 'detail-grid' },
      el('div', null, el('h3', null, 'Versions'), versions.table),
      el('div', null, el('h3', null, 'Accuracy and latency by version'), chartEl),
      el('div', null, el('h3', null, 'Placements'), placements.table, el('h3', null, 'Refusals'), refusals),
      el('div', null, el('h3', null, 'Recent events'), events))));

  const v = {
    el: el('tbody', { class: 'task' }, main, detail),
    name, cells, stateEl, versionEl, detail, chartEl, chart: null, open: false, task: null,
    versionsBody: versions.body, placementsBody: placements.body, refusals, events,
    dispose() { if (v.chart) v.chart.destroy(); },
  };
  toggle.addEventListener('click', () => {
    v.open = !v.open;
    v.detail.hidden = !v.open;
    toggle.setAttribute('aria-expanded', String(v.open));
    if (v.open) drawTaskChart(v);  // made on first open, so closed tasks cost no chart
  });
  return v;
}

function createVersion(task) {
  return (ver, key) => {
    const cells = ['version', 'state', 'origin', 'created', 'validation', 'feedback', 'latency']
      .map((c) => el('td', { class: `c-${c}` }));
    return { el: el('tr', { 'data-version': `${task}/${key}` }, ...cells), cells };
  };
}

function updateVersion(v, ver) {
  const [num, state, origin, created, val, fb, lat] = v.cells;
  setText(num, text(ver.version));
  setText(state, text(ver.state));
  setAttr(state, 'data-state', text(ver.state));
  setText(origin, text(ver.origin));
  setText(created, fmtDateTime(ver.created_unix_ms));
  setText(val, fmtPct(ver.validation_accuracy));
  setText(fb, fmtPct(ver.feedback_accuracy));
  setText(lat, fmtNum(ver.latency_ms, 3));
}

function updateTask(v, t) {
  const c = v.cells;
  v.task = t;
  setText(c.node, text(t.node));
  setText(v.stateEl, text(t.state));
  setAttr(v.stateEl, 'data-state', text(t.state));
  setText(v.versionEl, isNum(t.version) ? String(t.version) : DASH);
  setText(c.training, t.training ? 'yes' : 'no');
  setText(c.pinned, isNum(t.pinned_version) && t.pinned_version > 0 ? String(t.pinned_version) : DASH);
  setText(c.message, t.message ? String(t.message) : '');
  setText(c.serving, t.serving_address ? String(t.serving_address) : '');

  // A task's versions change a few times an hour: compare once, skip the rest.
  const sig = JSON.stringify(t.versions);
  if (sig !== v.versionsSig) {
    v.versionsSig = sig;
    const newestFirst = list(t.versions).slice().sort((a, b) => b.version - a.version);
    syncList(v.versionsBody, newestFirst, (x) => x.version, createVersion(v.name), updateVersion);
    if (v.open) drawTaskChart(v);
  }
  replaceIfChanged(v.placementsBody, list(t.placements).slice(-20).reverse(),
    (p) => row([text(p.node), fmtDateTime(p.at_unix_ms), text(p.why)]));
  replaceIfChanged(v.refusals, list(t.refusals),
    (r) => el('li', null, el('b', null, text(r.node)), ': ', text(r.why)));
  replaceIfChanged(v.events, list(t.events).slice(-20).reverse(), (e) => el('li', null, text(e)));
}

// ---------------------------------------------------------------- data path

function createIngest(item, key) {
  const cells = ['node', 'task', 'mps', 'bps', 'lost'].map((c) => el('td', { class: `c-${c}` }));
  return { el: el('tr', { 'data-ingest': key }, ...cells), cells };
}

function updateIngest(v, i) {
  const [node, task, mps, bps, lost] = v.cells;
  setText(node, text(i.node));
  setText(task, text(i.task));
  setText(mps, fmtNum(i.messages_per_s, 1));
  setText(bps, isNum(i.bytes_per_s) ? `${fmtBytes(i.bytes_per_s)}/s` : DASH);
  setText(lost, text(i.lost));
  setAttr(v.el, 'data-lost', isNum(i.lost) && i.lost > 0 ? 'true' : 'false');
}

// ---------------------------------------------------------------- state

let renderedFromStream = false;

function render(s, fromStream) {
  if (!s || typeof s !== 'object') return;
  // The first fetch may be answered after the stream's first state: it is older.
  if (!fromStream && renderedFromStream) return;
  renderedFromStream = renderedFromStream || fromStream;
  const nodes = list(s.nodes);
  const tasks = list(s.tasks);
  recordLoad(nodes, isNum(s.now_unix_ms) ? s.now_unix_ms : Date.now());
  syncList($('#nodes tbody'), nodes, (n) => n.name, createNode, updateNode);
  syncList($('#tasks'), tasks, (t) => t.name, createTask, updateTask);
  syncList($('#ingest tbody'), list(s.ingest), (i) => `${i.node}/${i.task}`, createIngest, updateIngest);

  const alive = nodes.filter((n) => n.alive).length;
  const serving = tasks.filter((t) => t.state === 'serving').length;
  setText($('#summary'), `${alive}/${nodes.length} nodes alive · ${serving}/${tasks.length} tasks serving`);
  setText($('#updated'), `state at ${fmtTime(s.now_unix_ms)}`);
}

async function fetchState() {
  try {
    const r = await fetch('/api/state', { cache: 'no-store' });
    if (!r.ok) throw new Error(`GET /api/state: HTTP ${r.status}`);
    render(await r.json(), false);
  } catch (err) {
    // The stream's states still render; the status says whether it is up.
    console.warn('first state:', err);
  }
}

// ---------------------------------------------------------------- event log

const pendingEvents = [];
let flushScheduled = false;
let predictionsThisSecond = 0;

function describe(kind, d) {
  switch (kind) {
    case 'prediction':
      return `v${text(d.version)} → ${text(d.label)} ${fmtPct(d.certainty)} (${text(d.stage)})`;
    case 'version':
      return `v${text(d.version)} ${text(d.state)}, ${text(d.origin)}, validation ${fmtPct(d.validation_accuracy)}`;
    case 'feedback':
      return `${text(d.rows)} feedback rows`;
    case 'adaptation':
      return text(d.text);
    case 'placement':
      return `→ ${text(d.node)}: ${text(d.why)}`;
    default:
      return '';
  }
}

function eventRow({ kind, data }) {
  return el('li', { 'data-kind': kind },
    el('time', null, fmtTime(data.at_unix_ms)),
    el('span', { class: 'kind' }, kind),
    el('span', { class: 'task' }, text(data.task)),
    el('span', { class: 'text' }, describe(kind, data)));
}

// Predictions can come by the hundred a second: events are queued and drawn
// once a frame, and only the newest EVENT_CAP of them ever reach the DOM.
function logEvent(kind, data) {
  if (kind === 'prediction') {
    predictionsThisSecond++;
    if (!$('#show-predictions').checked) return;
  }
  pendingEvents.push({ kind, data });
  if (pendingEvents.length > EVENT_CAP) pendingEvents.splice(0, pendingEvents.length - EVENT_CAP);
  if (!flushScheduled) {
    flushScheduled = true;
    requestAnimationFrame(flushEvents);
  }
}

function flushEvents() {
  flushScheduled = false;
  const log = $('#events');
  const batch = pendingEvents.splice(0).reverse();  // newest first
  log.prepend(...batch.map(eventRow));
  while (log.childElementCount > EVENT_CAP) log.lastElementChild.remove();
}

// ---------------------------------------------------------------- stream

let source = null;
let lastMessageMs = 0;
let retryTimer = null;

function setStatus(s) {
  setText($('#status'), s);
  setAttr($('#status'), 'data-state', s);
}

function parse(e) {
  try {
    return JSON.parse(e.data);
  } catch (err) {
    console.error(`bad ${e.type} event from /api/events:`, err.message);
    return null;
  }
}

function onMessage() {
  lastMessageMs = Date.now();
  setStatus('connected');
}

function connect() {
  retryTimer = null;
  if (source) source.close();
  lastMessageMs = Date.now();
  source = new EventSource('/api/events');
  // Not `onopen`: an open stream that says nothing is no better than none,
  // so the status turns connected with the first message (a state comes every second).
  source.onerror = () => {
    setStatus('disconnected');
    // While CONNECTING the browser retries by itself; CLOSED means it gave up
    // (an HTTP error or a wrong content type), so we retry ourselves.
    if (source.readyState === EventSource.CLOSED) reconnectSoon();
  };
  source.addEventListener('state', (e) => {
    onMessage();
    const s = parse(e);
    if (s) render(s, true);
  });
  for (const kind of LOG_TYPES) {
    source.addEventListener(kind, (e) => {
      onMessage();
      const d = parse(e);
      if (d) logEvent(kind, d);
    });
  }
}

function reconnectSoon() {
  if (!retryTimer) retryTimer = setTimeout(connect, RETRY_MS);
}

// Once a second. A stream can stall without closing (a half-open TCP
// connection, a stuck proxy): EventSource would wait forever, so silence
// counts as a drop.
function tick() {
  if (source && Date.now() - lastMessageMs > STALE_MS) {
    setStatus('disconnected');
    reconnectSoon();
  }
  setText($('#prediction-rate'), `${predictionsThisSecond}/s`);
  predictionsThisSecond = 0;
}

fetchState();
connect();
setInterval(tick, 1000);

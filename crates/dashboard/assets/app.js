// albless dashboard: plain JavaScript, no framework, nothing loaded from the network.
// Reads and acts through the AWS JSON API on this address (POST / with X-Amz-Target),
// like the CLI; reads traffic, routes and task logs from /dashboard/api/*.
'use strict';

const ECS = 'AmazonEC2ContainerServiceV20141113.';
const SD = 'Route53AutoNaming_v20170314.';
const CLASS_COLORS = ['var(--c1xx)', 'var(--c2xx)', 'var(--c3xx)', 'var(--c4xx)', 'var(--c5xx)'];
const PALETTE = ['#1f6feb', '#1a7f37', '#8250df', '#bf8700', '#cf222e', '#0a7d8c', '#d1242f', '#6e7781'];
const CHART_SECS = 120;

// ---- talking to albless -------------------------------------------------------------

async function aws(target, body) {
  const r = await fetch('/', {
    method: 'POST',
    headers: { 'X-Amz-Target': target, 'Content-Type': 'application/x-amz-json-1.1' },
    body: JSON.stringify(body || {}),
  });
  const text = await r.text();
  const v = text ? JSON.parse(text) : {};
  if (!r.ok) {
    const type = (v.__type || String(r.status)).split('#').pop();
    throw new Error(type + ': ' + (v.message || v.Message || r.statusText));
  }
  return v;
}

async function getJSON(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(url + ': ' + r.status);
  return r.json();
}

let stackInfo = null;
let traffic = null;

async function loadServices() {
  const list = await aws(ECS + 'ListServices', {});
  if (!list.serviceArns.length) return [];
  const d = await aws(ECS + 'DescribeServices', { services: list.serviceArns });
  return d.services.sort((a, b) => a.serviceName.localeCompare(b.serviceName));
}

async function loadTasks(service, desiredStatus) {
  const body = { desiredStatus: desiredStatus || 'RUNNING' };
  if (service) body.serviceName = service;
  const list = await aws(ECS + 'ListTasks', body);
  if (!list.taskArns.length) return [];
  const d = await aws(ECS + 'DescribeTasks', { tasks: list.taskArns });
  return d.tasks.sort((a, b) => a.createdAt - b.createdAt);
}

// ---- small helpers ------------------------------------------------------------------

/** Builds an element: el('a', {href: '#'}, 'text', child). Text is never parsed as HTML. */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const taskId = (arn) => arn.split('/').pop();
const short = (id) => id.slice(0, 8);
const svcOfTask = (t) => (t.group || '').replace(/^service:/, '');
const addrOf = (t) => {
  const ip = ((t.containers || [])[0]?.networkInterfaces || [])[0]?.privateIpv4Address;
  if (!ip) return null;
  const svc = stackInfo?.services.find((s) => s.name === svcOfTask(t));
  return svc ? ip + ':' + svc.port : ip;
};
const revision = (arn) => (arn || '').split('/').pop();

function age(epoch) {
  if (!epoch) return '–';
  const s = Math.max(0, Math.round(Date.now() / 1000 - epoch));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
}
const when = (epoch) => (epoch ? new Date(epoch * 1000).toLocaleTimeString() : '–');

function badge(text) {
  const t = String(text || 'UNKNOWN');
  let cls = '';
  if (/^(RUNNING|HEALTHY|COMPLETED|ACTIVE|PRIMARY|SUCCESS)$/.test(t)) cls = 'ok';
  else if (/^(UNHEALTHY|FAILED|STOPPED|FAIL)$/.test(t)) cls = 'bad';
  else if (/PENDING|PROVISIONING|ACTIVATING|STOPPING|DEACTIVATING|IN_PROGRESS|UNKNOWN/.test(t)) cls = 'warn';
  return el('span', { class: 'badge ' + cls }, t);
}

function toast(message, error) {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.className = 'toast' + (error ? ' error' : '');
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, error ? 8000 : 3000);
}

/** Runs an action from a control, showing what happened. */
async function act(button, label, fn) {
  button.disabled = true;
  try {
    await fn();
    toast(label);
    await refresh();
  } catch (e) {
    toast(e.message, true);
  } finally {
    button.disabled = false;
  }
}

/** A stop button that asks to be pressed twice (the second press within 4 s stops). */
function stopButton(task) {
  const id = taskId(task.taskArn);
  const b = el('button', {
    class: 'danger', type: 'button', 'data-stop': id,
    'aria-label': 'Stop task ' + id,
  }, 'Stop');
  if (task.desiredStatus === 'STOPPED') b.disabled = true;
  b.addEventListener('click', () => {
    if (!b.classList.contains('armed')) {
      b.classList.add('armed');
      b.textContent = 'Confirm stop';
      b.setAttribute('aria-label', 'Confirm: stop task ' + id);
      setTimeout(() => {
        b.classList.remove('armed');
        b.textContent = 'Stop';
        b.setAttribute('aria-label', 'Stop task ' + id);
      }, 4000);
      return;
    }
    act(b, 'Task ' + short(id) + ' stopping', () =>
      aws(ECS + 'StopTask', { task: task.taskArn, reason: 'Stopped from the albless dashboard' }));
  });
  return b;
}

// ---- traffic ------------------------------------------------------------------------

const trafficOfTask = (id) => traffic?.tasks.find((t) => t.taskId === id);
const sumClasses = (c) => c.reduce((a, b) => a + b, 0);

/** Requests per second over the last `secs` whole seconds. */
function rpsNow(series, secs = 10) {
  if (!series) return 0;
  const done = series.rps.slice(0, -1).slice(-secs);
  return done.reduce((a, c) => a + sumClasses(c), 0) / secs;
}

/** An SVG line or stacked-area chart of `series` (each {name, color, values}). */
function chart(title, series, opts = {}) {
  const W = 600, H = 160, L = 44, B = 20, T = 8, R = 8;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  let max = 0;
  if (opts.stacked) {
    for (let i = 0; i < n; i++) max = Math.max(max, series.reduce((a, s) => a + (s.values[i] || 0), 0));
  } else {
    for (const s of series) for (const v of s.values) if (v !== null) max = Math.max(max, v);
  }
  max = niceMax(max);
  const x = (i) => L + (i / Math.max(1, n - 1)) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  const latest = series.map((s) => s.name + ' ' + fmt(s.values[s.values.length - 1])).join(', ');
  svg.setAttribute('aria-label', title + (latest ? ': latest ' + latest : ''));
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  for (const f of [0, 0.5, 1]) {
    add('line', { x1: L, x2: W - R, y1: y(max * f), y2: y(max * f), stroke: '#d1d9e0', 'stroke-width': 1 });
    add('text', { x: L - 4, y: y(max * f) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#59636e' }, fmt(max * f));
  }
  add('text', { x: L, y: H - 4, 'font-size': 11, fill: '#59636e' }, '-' + (opts.span || n) + 's');
  add('text', { x: W - R, y: H - 4, 'font-size': 11, fill: '#59636e', 'text-anchor': 'end' }, 'now');
  const base = new Array(n).fill(0);
  for (const s of series) {
    const pts = [];
    for (let i = 0; i < n; i++) {
      const v = s.values[i];
      if (v === null || v === undefined) continue;
      const top = opts.stacked ? base[i] + v : v;
      pts.push([x(i), y(top), y(opts.stacked ? base[i] : 0)]);
      if (opts.stacked) base[i] = top;
    }
    if (!pts.length) continue;
    if (opts.stacked) {
      const d = 'M' + pts.map((p) => p[0] + ',' + p[1]).join('L') + 'L' +
        pts.slice().reverse().map((p) => p[0] + ',' + p[2]).join('L') + 'Z';
      add('path', { d, fill: s.color, 'fill-opacity': 0.75, stroke: 'none' });
    } else {
      add('polyline', { points: pts.map((p) => p[0] + ',' + p[1]).join(' '), fill: 'none', stroke: s.color, 'stroke-width': 2 });
      // Dots, so that a window alone between empty ones still shows.
      if (opts.dots) for (const p of pts) add('circle', { cx: p[0], cy: p[1], r: 3, fill: s.color });
    }
  }
  const legend = el('div', { class: 'legend' },
    series.map((s) => el('span', {}, el('i', { style: 'background:' + s.color }), s.name)));
  return el('figure', { class: 'chart', style: 'margin:0' }, el('figcaption', { class: 'muted' }, title), svg, legend);
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
function fmt(v) {
  if (v === null || v === undefined) return '–';
  if (v >= 100) return Math.round(v).toString();
  if (v >= 10) return v.toFixed(1).replace(/\.0$/, '');
  return v.toFixed(2).replace(/\.?0+$/, '') || '0';
}

/** Requests per second of `series` by status class, as a stacked chart. */
function classChart(title, series) {
  const rows = (series ? series.rps.slice(0, -1) : []).slice(-CHART_SECS);
  const classes = traffic ? traffic.classes : ['1xx', '2xx', '3xx', '4xx', '5xx'];
  const lines = classes.map((name, k) => ({ name, color: CLASS_COLORS[k], values: rows.map((c) => c[k]) }))
    .filter((s, k) => k === 1 || s.values.some((v) => v > 0));
  return chart(title, lines, { stacked: true, span: CHART_SECS });
}

/** p50 and p99 latency of `series`, per window. */
function latencyChart(title, series) {
  const w = series ? series.latency : [];
  return chart(title, [
    { name: 'p50 ms', color: '#1f6feb', values: w.map((x) => x.p50Ms) },
    { name: 'p99 ms', color: '#cf222e', values: w.map((x) => x.p99Ms) },
  ], { span: traffic ? traffic.windowSecs : 300, dots: true });
}

/** Requests per second of several series (one line each). */
function linesChart(title, named) {
  return chart(title, named.map((s, i) => ({
    name: s.name, color: PALETTE[i % PALETTE.length],
    values: (s.series ? s.series.rps.slice(0, -1) : []).slice(-CHART_SECS).map(sumClasses),
  })), { span: CHART_SECS });
}

// ---- pages --------------------------------------------------------------------------

const pages = {};

pages.overview = async () => {
  const [services, tasks] = await Promise.all([loadServices(), loadTasks()]);
  const main = el('div');
  const running = tasks.filter((t) => t.lastStatus === 'RUNNING').length;
  const total = traffic?.total;
  const p99 = total ? total.latency.slice(-2).reverse().find((w) => w.count)?.p99Ms : null;
  main.append(el('h1', {}, 'Stack ', stackInfo.name),
    el('div', { class: 'stats' },
      stat(services.length, 'services'),
      stat(running + ' / ' + tasks.length, 'tasks running'),
      stat(fmt(rpsNow(total)), 'requests/s (10 s)'),
      stat(total ? total.lastMinute : 0, 'requests, last minute'),
      stat(p99 ? fmt(p99) + ' ms' : '–', 'p99 latency'),
    ));

  // The diagram: gateway routes → services → tasks.
  const routes = el('div', { class: 'col' }, el('h2', {}, 'Routes'),
    stackInfo.gateway ? el('div', { class: 'sub muted mono' }, stackInfo.gateway) : null,
    stackInfo.routes.map((r) => {
      const rt = traffic?.routes.find((x) => x.key === r.key);
      return el('a', { class: 'node route', href: '#/traffic', 'data-node': 'route:' + r.key, 'data-to': 'service:' + r.service },
        el('span', { class: 'count', title: 'requests/s' }, fmt(rpsNow(rt)) + '/s'),
        el('div', { class: 'mono' }, r.key), el('div', { class: 'sub' }, '→ ' + r.service));
    }));
  const svcs = el('div', { class: 'col' }, el('h2', {}, 'Services'),
    services.map((s) => el('a', { class: 'node', href: '#/services/' + encodeURIComponent(s.serviceName), 'data-node': 'service:' + s.serviceName },
      el('strong', {}, s.serviceName),
      el('div', { class: 'sub' }, `desired ${s.desiredCount} · running ${s.runningCount} · pending ${s.pendingCount}`),
      el('div', { class: 'sub' }, s.serviceName + '.' + stackInfo.namespace))));
  const tks = el('div', { class: 'col' }, el('h2', {}, 'Tasks'),
    tasks.length ? null : el('p', { class: 'muted' }, 'No task running.'),
    tasks.map((t) => {
      const id = taskId(t.taskArn);
      const tt = trafficOfTask(id);
      return el('a', {
        class: 'node task' + (t.lastStatus === 'RUNNING' ? '' : ' pending'),
        href: '#/tasks/' + id, 'data-node': 'task:' + id, 'data-from': 'service:' + svcOfTask(t),
        'data-task-id': id, 'data-task-addr': addrOf(t) || '',
      },
      el('span', { class: 'count', 'data-task-count': id, title: 'requests in the last 5 minutes' }, tt ? tt.requests : 0),
      el('span', { class: 'mono' }, short(id)), ' ', badge(t.lastStatus), ' ', badge(t.healthStatus),
      el('div', { class: 'sub mono' }, addrOf(t) || 'no address yet'),
      el('div', { class: 'sub' }, svcOfTask(t) + ' · up ' + age(t.startedAt || t.createdAt)));
    }));
  const diagram = el('div', { class: 'diagram', role: 'group', 'aria-label': 'Stack diagram: routes, services and tasks' }, routes, svcs, tks);
  main.append(el('section', { class: 'card', 'aria-label': 'Stack diagram' }, diagram));
  main.append(el('div', { class: 'grid' },
    el('section', { class: 'card' }, classChart('Requests per second, by status class', total)),
    el('section', { class: 'card' }, linesChart('Requests per second, per task',
      tasks.map((t) => ({ name: short(taskId(t.taskArn)), series: trafficOfTask(taskId(t.taskArn)) }))))));
  main.after = () => drawLinks(diagram);
  return main;
};

function stat(n, label) {
  return el('div', { class: 'stat' }, el('div', { class: 'n' }, n), el('div', { class: 'l' }, label));
}

/** Lines from each route to its service and from each service to its tasks. */
function drawLinks(diagram) {
  const ns = 'http://www.w3.org/2000/svg';
  diagram.querySelector('svg.links')?.remove();
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'links');
  svg.setAttribute('aria-hidden', 'true');
  const box = diagram.getBoundingClientRect();
  const node = (key) => diagram.querySelector(`[data-node="${CSS.escape(key)}"]`);
  const link = (a, b) => {
    if (!a || !b) return;
    const ra = a.getBoundingClientRect(), rb = b.getBoundingClientRect();
    const x1 = ra.right - box.left, y1 = ra.top + ra.height / 2 - box.top;
    const x2 = rb.left - box.left, y2 = rb.top + rb.height / 2 - box.top;
    const mx = (x1 + x2) / 2;
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`);
    svg.append(p);
  };
  diagram.querySelectorAll('[data-to]').forEach((a) => link(a, node(a.dataset.to)));
  diagram.querySelectorAll('[data-from]').forEach((b) => link(node(b.dataset.from), b));
  diagram.prepend(svg);
}

pages.service = async (name) => {
  const [services, tasks, stopped] = await Promise.all([
    aws(ECS + 'DescribeServices', { services: [name] }).then((d) => d.services),
    loadTasks(name), loadTasks(name, 'STOPPED')]);
  const s = services[0];
  if (!s) return el('p', {}, 'No service ', name, '.');
  const configured = stackInfo.services.find((x) => x.name === name)?.configuredCount || 1;
  const main = el('div');
  main.append(el('h1', {}, 'Service ', s.serviceName),
    el('div', { class: 'stats' },
      stat(s.desiredCount, 'desired'), stat(s.runningCount, 'running'), stat(s.pendingCount, 'pending'),
      stat(revision(s.taskDefinition), 'task definition')));

  // Actions, each one ECS UpdateService call.
  const count = el('input', { type: 'number', min: 0, max: 100, value: s.desiredCount, id: 'desired-count', name: 'desired-count' });
  const scale = el('button', { class: 'primary', type: 'submit', 'aria-label': 'Scale ' + name + ' to the desired count' }, 'Scale');
  const form = el('form', { class: 'actions', 'aria-label': 'Actions on service ' + name },
    el('label', { for: 'desired-count' }, 'Desired count'), count, scale);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const n = parseInt(count.value, 10);
    act(scale, `Scaling ${name} to ${n}`, () => aws(ECS + 'UpdateService', { service: name, desiredCount: n }));
  });
  const deploy = el('button', { type: 'button', 'aria-label': 'Deploy ' + name + ' again (force a new deployment)' }, 'Deploy');
  deploy.onclick = () => act(deploy, 'New deployment of ' + name, () =>
    aws(ECS + 'UpdateService', { service: name, forceNewDeployment: true }));
  const sleep = el('button', { type: 'button', 'aria-label': 'Sleep: scale ' + name + ' to zero', disabled: s.desiredCount === 0 }, 'Sleep');
  sleep.onclick = () => act(sleep, name + ' going to sleep', async () => {
    localStorage.setItem('albless.wake.' + name, String(s.desiredCount));
    await aws(ECS + 'UpdateService', { service: name, desiredCount: 0 });
  });
  const wake = el('button', { type: 'button', 'aria-label': 'Wake: restore the desired count of ' + name, disabled: s.desiredCount > 0 }, 'Wake');
  wake.onclick = () => act(wake, 'Waking ' + name, async () => {
    const n = Math.max(1, parseInt(localStorage.getItem('albless.wake.' + name) || configured, 10));
    await aws(ECS + 'UpdateService', { service: name, desiredCount: n });
    localStorage.removeItem('albless.wake.' + name);
  });
  form.append(deploy, sleep, wake);
  main.append(el('section', { class: 'card', 'data-keep': 'actions' }, el('h2', {}, 'Actions'), form));

  main.append(el('section', { class: 'card' }, el('h2', {}, 'Tasks'), taskTable(tasks, true)));
  main.append(el('div', { class: 'grid' },
    el('section', { class: 'card' }, linesChart('Requests per second, per task',
      tasks.map((t) => ({ name: short(taskId(t.taskArn)), series: trafficOfTask(taskId(t.taskArn)) })))),
    el('section', { class: 'card' }, el('h2', {}, 'Events'),
      el('ul', { class: 'events' }, s.events.slice(0, 30).map((e) =>
        el('li', {}, el('span', { class: 'muted' }, when(e.createdAt), ' '), e.message))))));
  main.append(el('section', { class: 'card' }, el('h2', {}, 'Deployments'), el('div', { class: 'table-wrap' },
    el('table', {}, el('thead', {}, el('tr', {}, ['Deployment', 'Status', 'Revision', 'Desired', 'Running', 'Pending', 'Failed', 'Rollout', 'Updated']
      .map((h, i) => el('th', { class: i >= 3 && i <= 6 ? 'num' : null, scope: 'col' }, h)))),
    el('tbody', {}, s.deployments.map((d) => el('tr', {},
      el('td', { class: 'mono' }, d.id), el('td', {}, badge(d.status)), el('td', { class: 'mono' }, revision(d.taskDefinition)),
      el('td', { class: 'num' }, d.desiredCount), el('td', { class: 'num' }, d.runningCount),
      el('td', { class: 'num' }, d.pendingCount), el('td', { class: 'num' }, d.failedTasks),
      el('td', {}, badge(d.rolloutState), el('div', { class: 'sub muted' }, d.rolloutStateReason)),
      el('td', {}, when(d.updatedAt)))))))));
  if (stopped.length) {
    main.append(el('section', { class: 'card' }, el('h2', {}, 'Stopped tasks (last hour)'),
      el('div', { class: 'table-wrap' }, el('table', {},
        el('thead', {}, el('tr', {}, ['Task', 'Stopped', 'Stop code', 'Reason'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, stopped.slice(-20).reverse().map((t) => el('tr', {},
          el('td', { class: 'mono' }, el('a', { href: '#/tasks/' + taskId(t.taskArn) }, short(taskId(t.taskArn)))),
          el('td', {}, when(t.stoppedAt || t.stoppingAt)), el('td', {}, t.stopCode || '–'), el('td', {}, t.stoppedReason || '–'))))))));
  }
  return main;
};

function taskTable(tasks, actions) {
  if (!tasks.length) return el('p', { class: 'muted' }, 'No task.');
  const heads = ['Task', 'Status', 'Health', 'Address', 'Age', 'Requests (5 min)', 'req/s'];
  if (actions) heads.push('Actions');
  return el('div', { class: 'table-wrap' }, el('table', {},
    el('thead', {}, el('tr', {}, heads.map((h, i) => el('th', { scope: 'col', class: i === 5 || i === 6 ? 'num' : null }, h)))),
    el('tbody', {}, tasks.map((t) => {
      const id = taskId(t.taskArn);
      const tt = trafficOfTask(id);
      return el('tr', { 'data-task-id': id, 'data-task-addr': addrOf(t) || '' },
        el('td', { class: 'mono' }, el('a', { href: '#/tasks/' + id, 'aria-label': 'Task ' + id }, short(id))),
        el('td', {}, badge(t.lastStatus)), el('td', {}, badge(t.healthStatus)),
        el('td', { class: 'mono' }, addrOf(t) || '–'), el('td', {}, age(t.startedAt || t.createdAt)),
        el('td', { class: 'num', 'data-task-count': id }, tt ? tt.requests : 0),
        el('td', { class: 'num' }, fmt(rpsNow(tt))),
        actions ? el('td', {}, stopButton(t)) : null);
    }))));
}

let logState = { id: null, next: null, text: '' };

pages.task = async (id) => {
  const d = await aws(ECS + 'DescribeTasks', { tasks: [id] });
  const t = d.tasks[0];
  if (!t) return el('p', {}, 'No task ', id, ' (tasks are forgotten an hour after they stop).');
  const c = (t.containers || [])[0] || {};
  const svc = svcOfTask(t);
  const tt = trafficOfTask(id);
  const main = el('div');
  main.append(el('h1', {}, 'Task ', el('span', { class: 'mono' }, short(id)), ' ', badge(t.lastStatus)));
  const facts = [
    ['Task id', el('span', { class: 'mono' }, id)],
    ['Service', svc ? el('a', { href: '#/services/' + encodeURIComponent(svc) }, svc) : '–'],
    ['Status', [badge(t.lastStatus), ' desired ', badge(t.desiredStatus)]],
    ['Health', badge(t.healthStatus)],
    ['Address', el('span', { class: 'mono', 'data-task-addr': addrOf(t) || '' }, addrOf(t) || '–')],
    ['Process', c.runtimeId || '–'],
    ['Capacity', t.capacityProviderName],
    ['Task definition', el('span', { class: 'mono' }, revision(t.taskDefinitionArn))],
    ['Created', when(t.createdAt)],
    ['Age', age(t.startedAt || t.createdAt)],
    ['Stop code', t.stopCode || '–'],
    ['Stop reason', t.stoppedReason || '–'],
    ['Exit code', c.exitCode ?? '–'],
    ['Requests (5 min)', el('span', { 'data-task-count': id }, tt ? tt.requests : 0)],
  ];
  main.append(el('div', { class: 'grid' },
    el('section', { class: 'card' }, el('h2', {}, 'Details'),
      el('dl', { class: 'facts' }, facts.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
      el('div', { class: 'actions', style: 'margin-top:12px' }, stopButton(t))),
    el('section', { class: 'card' }, classChart('Requests per second to this task', tt),
      latencyChart('Latency of this task', tt))));

  // The log: kept across refreshes, appended to as it grows.
  if (logState.id !== id) logState = { id, next: null, text: '' };
  try {
    const from = logState.next === null ? '' : '?from=' + logState.next;
    const chunk = await getJSON(`/dashboard/api/tasks/${id}/log${from}`);
    logState.text = (chunk.truncated && logState.next !== null ? '' : logState.text) + chunk.text;
    if (logState.text.length > 200000) logState.text = logState.text.slice(-200000);
    logState.next = chunk.next;
  } catch (e) {
    if (!logState.text) logState.text = '(no log yet)';
  }
  const pre = el('pre', { class: 'log', id: 'task-log', tabindex: 0, 'aria-label': 'Log of task ' + id }, logState.text);
  const follow = el('input', { type: 'checkbox', id: 'follow-log', checked: logState.follow !== false });
  follow.onchange = () => { logState.follow = follow.checked; };
  main.append(el('section', { class: 'card' }, el('div', { class: 'actions', 'data-keep': 'log-controls' },
    el('h2', { style: 'margin:0' }, 'Log'), el('label', { for: 'follow-log' }, follow, 'Follow')), pre));
  main.after = () => {
    const old = document.getElementById('task-log');
    if (logState.follow !== false) old.scrollTop = old.scrollHeight;
    else if (logState.scroll !== undefined) old.scrollTop = logState.scroll;
    old.onscroll = () => { logState.scroll = old.scrollTop; };
  };
  return main;
};

pages.registry = async () => {
  const ns = await aws(SD + 'ListNamespaces', {});
  const main = el('div', {}, el('h1', {}, 'Registry (Cloud Map)'));
  for (const n of ns.Namespaces) {
    const svcs = await aws(SD + 'ListServices', { Filters: [{ Name: 'NAMESPACE_ID', Values: [n.Id], Condition: 'EQ' }] });
    const card = el('section', { class: 'card', 'aria-label': 'Namespace ' + n.Name },
      el('h2', {}, n.Name, ' ', el('span', { class: 'badge' }, n.Type)),
      el('div', { class: 'muted mono' }, n.Id, ' · ', n.ServiceCount, ' service(s)'));
    for (const s of svcs.Services) {
      const [inst, health] = await Promise.all([
        aws(SD + 'ListInstances', { ServiceId: s.Id }),
        aws(SD + 'GetInstancesHealthStatus', { ServiceId: s.Id }).catch(() => ({ Status: {} }))]);
      const records = (s.DnsConfig?.DnsRecords || []).map((r) => r.Type + ' ' + r.TTL + 's').join(', ');
      card.append(el('h3', {}, s.Name, el('span', { class: 'muted' }, ' · ', s.Id, records ? ' · ' + records : '')),
        inst.Instances.length ? el('div', { class: 'table-wrap' }, el('table', {},
          el('thead', {}, el('tr', {}, ['Instance', 'Health', 'Attributes'].map((h) => el('th', { scope: 'col' }, h)))),
          el('tbody', {}, inst.Instances.map((i) => el('tr', { 'data-instance': i.Id },
            el('td', { class: 'mono' }, i.Id), el('td', {}, badge(health.Status?.[i.Id] || 'UNKNOWN')),
            el('td', {}, el('div', { class: 'chips' }, Object.entries(i.Attributes || {}).sort()
              .map(([k, v]) => el('span', { class: 'chip' }, k + '=' + v))))))))) :
          el('p', { class: 'muted' }, 'No instance registered.'));
    }
    main.append(card);
  }
  return main;
};

pages.traffic = async () => {
  const main = el('div', {}, el('h1', {}, 'Traffic'));
  if (!traffic) return main;
  main.append(el('p', { class: 'muted' }, `Requests through the gateway over the last ${traffic.windowSecs / 60} minutes; `,
    `latency from request to response head, in ${traffic.latencySlotSecs}-second windows.`));
  main.append(el('div', { class: 'grid' },
    el('section', { class: 'card' }, classChart('All routes: requests per second', traffic.total)),
    el('section', { class: 'card' }, latencyChart('All routes: latency', traffic.total))));
  for (const r of traffic.routes) {
    main.append(el('section', { class: 'card', 'aria-label': 'Route ' + r.key },
      el('h2', {}, el('span', { class: 'mono' }, r.key), ' → ', r.service || '–',
        el('span', { class: 'muted' }, ` · ${r.requests} requests, ${r.lastMinute} in the last minute`)),
      el('div', { class: 'grid' }, classChart('Requests per second', r), latencyChart('Latency', r))));
  }
  const tasks = traffic.tasks.slice().sort((a, b) => b.requests - a.requests);
  main.append(el('section', { class: 'card' }, el('h2', {}, 'Per task'),
    linesChart('Requests per second, per task', tasks.map((t) => ({ name: t.taskId ? short(t.taskId) : t.addr, series: t }))),
    el('div', { class: 'table-wrap' }, el('table', {},
      el('thead', {}, el('tr', {}, ['Task', 'Address', 'Requests (5 min)', 'Last minute', 'req/s', '2xx', '4xx', '5xx', 'p50 ms', 'p99 ms']
        .map((h, i) => el('th', { scope: 'col', class: i >= 2 ? 'num' : null }, h)))),
      el('tbody', {}, tasks.map((t) => {
        const by = (k) => t.rps.reduce((a, c) => a + c[k], 0);
        const w = t.latency.slice(-2).reverse().find((x) => x.count) || {};
        return el('tr', { 'data-task-id': t.taskId || '' },
          el('td', { class: 'mono' }, t.taskId ? el('a', { href: '#/tasks/' + t.taskId }, short(t.taskId)) : '–'),
          el('td', { class: 'mono' }, t.addr), el('td', { class: 'num', 'data-task-count': t.taskId || '' }, t.requests),
          el('td', { class: 'num' }, t.lastMinute), el('td', { class: 'num' }, fmt(rpsNow(t))),
          el('td', { class: 'num' }, by(1)), el('td', { class: 'num' }, by(3)), el('td', { class: 'num' }, by(4)),
          el('td', { class: 'num' }, fmt(w.p50Ms)), el('td', { class: 'num' }, fmt(w.p99Ms)));
      }))))));
  return main;
};

// ---- routing and refresh ------------------------------------------------------------

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'services' && parts[1]) return { page: 'service', arg: parts[1], nav: '#/services/' + parts[1] };
  if (parts[0] === 'tasks' && parts[1]) return { page: 'task', arg: parts[1], nav: null };
  if (parts[0] === 'registry') return { page: 'registry', nav: '#/registry' };
  if (parts[0] === 'traffic') return { page: 'traffic', nav: '#/traffic' };
  return { page: 'overview', nav: '#/' };
}

let busy = false;
let again = false;

/** Fetches what the current page shows and redraws it, keeping focus and form input. */
async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  const live = document.getElementById('live');
  try {
    if (!stackInfo) {
      stackInfo = await getJSON('/dashboard/api/stack');
      document.getElementById('stack-name').textContent = stackInfo.name + ' · ' + stackInfo.region;
      document.title = stackInfo.name + ' · albless';
      const nav = document.getElementById('nav');
      for (const s of stackInfo.services) {
        nav.append(el('a', { href: '#/services/' + encodeURIComponent(s.name) }, s.name));
      }
    }
    traffic = await getJSON('/dashboard/api/traffic');
    const r = route();
    const view = await pages[r.page](r.arg);
    render(view, r);
    live.textContent = 'live · ' + new Date().toLocaleTimeString();
    live.classList.remove('down');
  } catch (e) {
    live.textContent = 'albless unreachable: ' + e.message;
    live.classList.add('down');
  } finally {
    busy = false;
    if (again) { again = false; refresh(); }
  }
}

let shownPage = null;

function render(view, r) {
  const main = document.getElementById('main');
  const key = r.page + ':' + (r.arg || '');
  // A control being used (typing a count, a stop waiting for its confirmation) keeps
  // its section until the user is done with it.
  const active = document.activeElement;
  const armed = main.querySelector('button.armed');
  if (shownPage === key) {
    const keep = (active && main.contains(active) && active.closest('[data-keep]')) || null;
    if (keep) {
      const fresh = view.querySelector(`[data-keep="${keep.dataset.keep}"]`);
      if (fresh) fresh.replaceWith(keep);
    }
    if (armed) {
      const fresh = view.querySelector(`[data-stop="${armed.dataset.stop}"]`);
      if (fresh) fresh.replaceWith(armed);
    }
  }
  const focusedStop = active?.dataset?.stop;
  main.replaceChildren(...view.childNodes);
  if (focusedStop) main.querySelector(`[data-stop="${focusedStop}"]`)?.focus();
  if (view.after) view.after();
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === r.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (shownPage !== key) {
    shownPage = key;
    window.scrollTo(0, 0);
  }
  currentAfter = view.after || null;
}

let currentAfter = null;
window.addEventListener('resize', () => { if (currentAfter) currentAfter(); });
window.addEventListener('hashchange', () => { shownPage = null; refresh(); });
document.addEventListener('DOMContentLoaded', () => {
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, 1000);
});

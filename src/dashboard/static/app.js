// faultline's live dashboard page. Polls /ui/api/* once a second, keeps the derived series in column arrays
// (one shared time column, appended in place, trimmed to the server's capacity), and draws one uPlot chart per
// panel with every fault window shaded behind the lines. Mutations go straight to the chaos API with the bearer
// token `faultline dashboard` put in the URL fragment; the page moves it into sessionStorage and off the URL.
//
//   /ui/api/series?since=t ─▶ columns ─▶ uPlot.setData ─┐
//   /ui/api/faults ───────▶ windows ─▶ drawClear hook ──┴▶ panels
//   form / HALT ALL ─Bearer─▶ /chaos/inject · /chaos/revert/{id} · DELETE /chaos/faults
'use strict';
(() => {
  const TOKEN_KEY = 'faultline-chaos-token';
  const POLL_MS = 1000;
  const COLORS = ['#58a6ff', '#f0883e', '#a371f7', '#3fb950', '#db61a2', '#e3b341', '#56d4dd', '#8b949e'];
  /** Panel id → title, in the order panels appear in each service. */
  const PANELS = {
    rps: 'requests/s',
    error_pct: 'errors (5xx) %',
    latency_ms: 'latency ms',
    in_flight: 'in-flight requests',
    event_loop_ms: 'event-loop delay p99 ms',
    pools: 'pool saturation (busy / waiting)',
    dependency_p99_ms: 'dependency p99 ms',
    replication_lag_s: 'replication lag s',
    breaker_state: 'breaker (0 closed · 1 half-open · 2 open)',
  };
  /** The write/read path panels on top: one chart per metric, one line per endpoint. */
  const ENDPOINT_PANELS = { p99_ms: 'p99 latency ms', error_pct: 'errors (5xx) %', rps: 'requests/s' };
  /** The system's services in its system file's order (the series answer says it); anything else follows. */
  let SERVICE_ORDER = [];
  const $ = (sel) => document.querySelector(sel);

  // ---- token: from the fragment into this tab's sessionStorage, then off the address bar -------------------
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get('token')) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get('token'));
    history.replaceState(null, '', location.pathname + location.search);
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  // A signed-in link pasted into a tab already on /ui/ only changes the fragment: no reload, so take it here.
  addEventListener('hashchange', () => {
    if (new URLSearchParams(location.hash.slice(1)).get('token')) location.reload();
  });

  // ---- data -----------------------------------------------------------------------------------------------
  /** Seconds since the epoch (uPlot's x unit). */
  const times = [];
  /** Series id → values aligned with `times` (null = gap). */
  const columns = new Map();
  let capacity = 3600;
  let lastT = 0;
  let faults = [];
  let nowS = Date.now() / 1000;

  function ingest(batch) {
    capacity = batch.capacity || capacity;
    const n = batch.t.length;
    if (n === 0) return false;
    const before = times.length;
    for (const t of batch.t) times.push(t / 1000);
    for (const [id, values] of Object.entries(batch.series)) {
      let col = columns.get(id);
      if (!col) {
        col = new Array(before).fill(null);
        columns.set(id, col);
      }
      for (const v of values) col.push(v);
    }
    for (const col of columns.values()) while (col.length < times.length) col.push(null);
    lastT = batch.t[n - 1];
    // Trim in chunks, not per point: splice cost is paid once a minute, not once a second.
    const excess = times.length - capacity;
    if (excess > 60) {
      times.splice(0, excess);
      for (const col of columns.values()) col.splice(0, excess);
    }
    return true;
  }

  // ---- panels ---------------------------------------------------------------------------------------------
  /** key `${group}/${panel}` → { el, title, lines: [id], chart } */
  const panels = new Map();

  function panelFor(group, panel, title, container) {
    const key = `${group}/${panel}`;
    let p = panels.get(key);
    if (p) return p;
    const el = document.createElement('div');
    el.className = 'panel';
    el.id = `panel-${key.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
    el.dataset.key = key;
    el.dataset.faultWindows = '0';
    const h = document.createElement('h3');
    h.textContent = title;
    const last = document.createElement('span');
    last.className = 'last';
    h.append(last);
    const body = document.createElement('div');
    body.className = 'empty';
    body.textContent = 'no data yet';
    el.append(h, body);
    container.append(el);
    p = { el, last, body, lines: [], chart: null };
    panels.set(key, p);
    return p;
  }

  function serviceSection(service) {
    const id = `group-${service.replace(/[^A-Za-z0-9_-]+/g, '-')}`;
    let grid = document.getElementById(id);
    if (grid) return grid;
    const section = document.createElement('section');
    section.className = 'service';
    const h = document.createElement('h2');
    h.textContent = service;
    const up = document.createElement('span');
    up.className = 'badge';
    up.id = `up-${service}`;
    h.append(up);
    grid = document.createElement('div');
    grid.className = 'grid';
    grid.id = id;
    section.append(h, grid);
    $('#services').append(section);
    return grid;
  }

  /** Shades every fault window inside the plot area, behind the lines, with "type → target" on top. */
  function drawFaults(u) {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    const [xmin, xmax] = [u.scales.x.min, u.scales.x.max];
    let shown = 0;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    ctx.font = `${Math.round(10 * devicePixelRatio)}px system-ui, sans-serif`;
    // uPlot leaves its axis text settings on the context (right-aligned y labels); ours start at x.
    ctx.textAlign = 'left';
    ctx.textBaseline = 'alphabetic';
    for (const f of faults) {
      const start = f.t_start;
      const stop = f.t_stop ?? nowS;
      if (stop < xmin || start > xmax) continue;
      shown++;
      const x0 = Math.max(left, u.valToPos(start, 'x', true));
      const x1 = Math.min(left + width, u.valToPos(stop, 'x', true));
      const active = f.t_stop == null;
      ctx.fillStyle = active ? 'rgba(248, 81, 73, 0.22)' : 'rgba(210, 153, 34, 0.16)';
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
      ctx.fillStyle = active ? '#ff7b72' : '#d29922';
      ctx.fillRect(x0, top, Math.max(1, devicePixelRatio), height);
      // The label stays inside the plot even when the window starts near its right edge.
      const label = `${f.type} → ${f.target}`;
      const lx = Math.min(x0 + 4 * devicePixelRatio, left + width - ctx.measureText(label).width - 4 * devicePixelRatio);
      ctx.fillText(label, Math.max(left, lx), top + 12 * devicePixelRatio + (shown - 1) % 3 * 12 * devicePixelRatio);
    }
    ctx.restore();
    u.root.parentElement.parentElement.dataset.faultWindows = String(shown);
  }

  function build(p, ids) {
    p.lines = ids;
    if (p.chart) p.chart.destroy();
    p.body.className = '';
    p.body.textContent = '';
    const width = Math.max(300, p.el.clientWidth - 12);
    p.chart = new uPlot(
      {
        width,
        height: 160,
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [
          { stroke: '#7d8894', grid: { stroke: '#222a33' }, ticks: { stroke: '#222a33' } },
          { stroke: '#7d8894', grid: { stroke: '#222a33' }, ticks: { stroke: '#222a33' }, size: 50 },
        ],
        series: [{}, ...ids.map((id, i) => ({ label: id.split('/').slice(2).join('/'), stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false, points: { show: false } }))],
        hooks: { drawClear: [drawFaults] },
      },
      [times, ...ids.map((id) => columns.get(id))],
      p.body,
    );
  }

  function render() {
    const windowS = Number($('#window').value);
    const max = times.length ? times[times.length - 1] : nowS;
    // A young lab fills the panel instead of hugging its right edge; at least a minute stays visible.
    const min = Math.min(max - 60, Math.max(max - windowS, times.length ? times[0] : max));
    // Group series ids into panels.
    const byPanel = new Map();
    for (const id of columns.keys()) {
      const [group, panel] = id.split('/');
      if (panel === 'up') continue;
      const key = `${group}/${panel}`;
      if (!byPanel.has(key)) byPanel.set(key, []);
      byPanel.get(key).push(id);
    }
    const keys = [...byPanel.keys()].sort((a, b) => order(a) - order(b));
    const created = panels.size;
    for (const key of keys) {
      const [group, panel] = key.split('/');
      const container = group === 'endpoints' ? $('#group-endpoints') : serviceSection(group);
      const title = group === 'endpoints' ? ENDPOINT_PANELS[panel] ?? panel : PANELS[panel] ?? panel;
      const p = panelFor(group, panel, title, container);
      const ids = byPanel.get(key).sort();
      if (!p.chart || ids.join('\n') !== p.lines.join('\n')) build(p, ids);
      else p.chart.setData([times, ...ids.map((id) => columns.get(id))], false);
      p.chart.setScale('x', { min, max });
      const lastValues = ids.map((id) => lastValue(columns.get(id)));
      p.el.dataset.last = JSON.stringify(Object.fromEntries(ids.map((id, i) => [id.split('/').slice(2).join('/'), lastValues[i]])));
      p.last.textContent = lastValues.map((v) => (v == null ? '–' : fmt(v))).join(' · ');
    }
    if (panels.size !== created) arrange();
    for (const id of columns.keys()) {
      const [service, panel] = id.split('/');
      if (panel !== 'up') continue;
      const badge = document.getElementById(`up-${service}`);
      const v = lastValue(columns.get(id));
      if (badge) {
        badge.textContent = v === 1 ? 'up' : 'down';
        badge.className = `badge ${v === 1 ? 'ok' : 'bad'}`;
      }
    }
  }

  /** Sort key: services in the lab's request order (edge first), then panels in PANELS order. */
  function order(key) {
    const [group, panel] = key.split('/');
    const names = Object.keys(group === 'endpoints' ? ENDPOINT_PANELS : PANELS);
    const i = names.indexOf(panel);
    const g = SERVICE_ORDER.indexOf(group);
    return (g < 0 ? SERVICE_ORDER.length : g) * 100 + (i < 0 ? 99 : i);
  }

  /**
   * Series appear when first observed (a dependency's first call, say), so a new panel may belong between
   * existing ones: re-append sections and panels in order. Moving a node keeps its uPlot canvas intact.
   */
  function arrange() {
    const sorted = [...panels.entries()].sort((a, b) => order(a[0]) - order(b[0]) || a[0].localeCompare(b[0]));
    const sections = [];
    for (const [, p] of sorted) {
      p.el.parentElement.append(p.el);
      const section = p.el.parentElement.closest('.service');
      if (section && !sections.includes(section)) sections.push(section);
    }
    for (const section of sections) $('#services').append(section);
  }

  function lastValue(col) {
    for (let i = col.length - 1; i >= Math.max(0, col.length - 5); i--) if (col[i] != null) return col[i];
    return null;
  }

  function fmt(v) {
    const a = Math.abs(v);
    return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
  }

  // ---- side panels: faults, SLOs, experiment, runs ---------------------------------------------------------
  function renderFaults() {
    const ul = $('#faults');
    ul.replaceChildren();
    if (faults.length === 0) {
      ul.innerHTML = '<li class="muted">none yet</li>';
      return;
    }
    for (const f of faults.slice(0, 50)) {
      const li = document.createElement('li');
      const active = f.phase === 'injected' || f.phase === 'pending';
      li.className = active ? 'active' : '';
      li.dataset.faultId = f.id;
      const started = new Date(f.t_start * 1000).toLocaleTimeString();
      const lasted = f.t_stop != null ? `${Math.round(f.t_stop - f.t_start)} s` : 'active';
      li.textContent = `${f.type} → ${f.target} ${JSON.stringify(f.params ?? {})} · ${started} · ${lasted} · ${f.phase} `;
      if (active) {
        const b = document.createElement('button');
        b.className = 'small';
        b.type = 'button';
        b.textContent = 'revert';
        b.disabled = !token;
        b.addEventListener('click', () => mutate('POST', `/chaos/revert/${encodeURIComponent(f.id)}`).then((r) => say(r.ok ? `reverted ${f.id}` : r.error, r.ok)));
        li.append(b);
      }
      ul.append(li);
    }
  }

  function renderStatus(s) {
    const tbody = $('#slo tbody');
    tbody.replaceChildren();
    for (const e of s.slo) {
      const tr = document.createElement('tr');
      tr.dataset.endpoint = e.endpoint;
      const bound = `err ≤ ${(e.max_error_ratio * 100).toFixed(1)} %${e.max_p99_ms != null ? `, p99 ≤ ${e.max_p99_ms} ms` : ''}`;
      const cells = [e.endpoint, e.state, e.rps.toFixed(1), e.error_ratio == null ? '–' : `${(e.error_ratio * 100).toFixed(2)} %`, e.p99_ms == null ? '–' : `${e.p99_ms.toFixed(0)} ms`, bound];
      cells.forEach((c, i) => {
        const td = document.createElement('td');
        td.textContent = c;
        if (i === 1) td.className = e.state;
        tr.append(td);
      });
      tbody.append(tr);
    }
    const select = $('#f-target');
    if (select.options.length !== s.targets.length) {
      const keep = select.value;
      select.replaceChildren(...s.targets.map((t) => new Option(t, t)));
      select.value = s.targets.includes(keep) ? keep : s.targets.includes('payments') ? 'payments' : s.targets[0];
    }
    const types = $('#fault-types');
    if (types.children.length !== s.fault_types.length) types.replaceChildren(...s.fault_types.map((t) => new Option(t)));
    const banner = $('#experiment');
    const ex = s.experiments.running ?? s.experiments.recent[0];
    banner.hidden = !ex;
    if (ex) {
      banner.replaceChildren();
      const title = document.createElement('strong');
      title.textContent = ex.title;
      banner.append(ex.running ? 'running experiment: ' : 'last experiment: ', title, ` · phase ${ex.phase}`);
      if (ex.running && ex.left_s != null) banner.append(` (${ex.left_s} s left)`);
      if (ex.verdict) {
        const v = document.createElement('span');
        v.className = `result-${ex.verdict.result}`;
        v.textContent = ` · verdict ${ex.verdict.result}`;
        banner.append(v);
        const nums = [];
        if (ex.verdict.baseline_p99 != null) nums.push(`baseline p99 ${ex.verdict.baseline_p99.toFixed(0)} ms`);
        if (ex.verdict.fault_p99 != null) nums.push(`fault p99 ${ex.verdict.fault_p99.toFixed(0)} ms`);
        if (ex.verdict.mttr_s != null) nums.push(`MTTR ${ex.verdict.mttr_s.toFixed(1)} s`);
        if (nums.length) banner.append(` (${nums.join(', ')})`);
      }
    }
    const deps = $('#deps tbody');
    deps.replaceChildren();
    for (const a of s.agents ?? []) {
      const rows = a.dependencies.length > 0 ? a.dependencies : [null];
      for (const d of rows) {
        const tr = document.createElement('tr');
        const cells = d ? [a.name, `${d.id} (${d.operations} ops)`, String(d.calls), String(d.errors), `${d.p99_ms.toFixed(1)} ms`] : [a.name, a.connected ? 'nothing called yet' : 'agent not connected', '–', '–', '–'];
        for (const c of cells) {
          const td = document.createElement('td');
          td.textContent = c;
          tr.append(td);
        }
        deps.append(tr);
      }
    }
    const runs = $('#runs');
    runs.replaceChildren();
    if (s.runs.length === 0) runs.innerHTML = '<li class="muted">no run reports yet</li>';
    for (const r of s.runs) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = r.href;
      a.target = '_blank';
      a.rel = 'noopener';
      a.textContent = r.name;
      li.append(a, ` · ${new Date(r.mtime_ms).toLocaleString()}`);
      runs.append(li);
    }
  }

  // ---- mutations ------------------------------------------------------------------------------------------
  async function mutate(method, path, body) {
    try {
      const res = await fetch(path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = await res.json().catch(() => ({}));
      return res.ok ? { ok: true, ...json } : { ok: false, error: `${json.error ?? `HTTP ${res.status}`}${json.hint ? ` — ${json.hint}` : ''}` };
    } catch (err) {
      return { ok: false, error: String(err) };
    } finally {
      void poll();
    }
  }

  function say(text, ok) {
    const msg = $('#f-msg');
    msg.textContent = text;
    msg.className = `msg ${ok ? 'ok' : 'bad'}`;
  }

  $('#inject').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let params;
    try {
      params = JSON.parse($('#f-params').value || '{}');
    } catch (err) {
      return say(`params is not JSON: ${err.message}`, false);
    }
    const duration = Number($('#f-duration').value);
    const body = { type: $('#f-type').value.trim(), target: $('#f-target').value, params, ...(duration > 0 ? { duration_s: duration } : {}) };
    const r = await mutate('POST', '/chaos/inject', body);
    say(r.ok ? `injected ${r.type} → ${r.target} (${r.id})` : r.error, r.ok);
  });

  $('#halt').addEventListener('click', async () => {
    const r = await mutate('DELETE', '/chaos/faults');
    say(r.ok ? `halted: ${r.reverted.length} reverted${r.still_active.length ? `, ${r.still_active.length} still active` : ''}` : r.error, r.ok);
  });

  if (token) {
    $('#auth').textContent = 'can inject';
    $('#auth').className = 'badge ok';
    $('#halt').disabled = false;
    $('#f-submit').disabled = false;
  } else {
    $('#auth').title = 'run `faultline dashboard` for a link that can inject and halt';
  }
  $('#window').addEventListener('change', render);
  let resizeTimer;
  addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const p of panels.values()) if (p.chart) p.chart.setSize({ width: Math.max(300, p.el.clientWidth - 12), height: 160 });
    }, 200);
  });

  // ---- the poll loop --------------------------------------------------------------------------------------
  let polling = false;
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const [series, f, status] = await Promise.all([
        fetch(`/ui/api/series?since=${lastT}`).then((r) => r.json()),
        fetch('/ui/api/faults').then((r) => r.json()),
        fetch('/ui/api/status').then((r) => r.json()),
      ]);
      nowS = f.now;
      faults = f.faults;
      if (Array.isArray(series.services)) SERVICE_ORDER = series.services;
      if (series.panels) Object.assign(PANELS, series.panels);
      ingest(series);
      render();
      renderFaults();
      renderStatus(status);
      $('#conn').textContent = `live · ${new Date(status.last_round || status.now).toLocaleTimeString()}`;
      $('#conn').className = 'badge ok';
    } catch (err) {
      $('#conn').textContent = 'controller unreachable';
      $('#conn').className = 'badge bad';
    } finally {
      polling = false;
    }
  }
  void poll();
  setInterval(poll, POLL_MS);
})();

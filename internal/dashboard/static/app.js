// The dashboard: reports, one person's journey and the detector, drawn from the /api
// routes of the server that serves this file. Plain DOM and SVG, no library: the page
// must work with no internet and stay small.
'use strict';
(() => {
  const KEY = 'attribution.apiKey';
  const SVGNS = 'http://www.w3.org/2000/svg';
  // Okabe-Ito, in an order where neighbours stay distinct for the common colour-blindness types.
  const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
  const MAX_BAR_ROWS = 12;
  const MAX_COMPARE_ROWS = 8;
  const MAX_TREND_WEEKS = 26;
  const MAX_TREND_SERIES = 7;

  const $ = (id) => document.getElementById(id);

  // el builds an element: attrs sets properties (class via className), children are
  // nodes or strings (text, never parsed as HTML).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'className' || k === 'id' || k === 'href' || k === 'title' || k === 'type') e[k] = v;
      else e.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  function show(node, on) { node.hidden = !on; }

  // Numbers for people: thousands separators, one decimal for credited conversions,
  // currency symbols for revenue.
  const fmtConversions = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const fmtCount = new Intl.NumberFormat();
  const fmtShare = new Intl.NumberFormat(undefined, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const moneyFormats = {};
  function money(amount, currency) {
    try {
      moneyFormats[currency] ||= new Intl.NumberFormat(undefined, { style: 'currency', currency });
      return moneyFormats[currency].format(amount);
    } catch {
      return fmtConversions.format(amount) + ' ' + currency;
    }
  }
  function revenueText(rev) {
    const cs = Object.keys(rev || {}).sort();
    return cs.length ? cs.map((c) => money(rev[c], c)).join(' + ') : '—';
  }
  const fmtDateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  function when(ts) {
    const d = new Date(ts);
    return isNaN(d) ? String(ts || '') : fmtDateTime.format(d);
  }

  // ---- API ----------------------------------------------------------------------

  class APIError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path, params) {
    const query = params ? '?' + new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== '')) : '';
    const headers = { Accept: 'application/json' };
    const key = sessionStorage.getItem(KEY);
    if (key) headers['x-api-key'] = key;
    let resp;
    try {
      resp = await fetch(path + query, { headers, cache: 'no-store' });
    } catch (err) {
      throw new APIError(0, 'Could not reach the API (' + err.message + '). Is the server running?');
    }
    const text = await resp.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { /* not JSON: reported below */ }
    if (resp.status === 401) {
      askForKey(Boolean(key));
      throw new APIError(401, key
        ? 'The API key was refused (401 Unauthorized): it is not the server\'s API_KEY.'
        : 'The API needs a key (401 Unauthorized): enter the server\'s API_KEY above.');
    }
    if (!resp.ok) {
      throw new APIError(resp.status, (body && body.error) || `The API answered ${resp.status} ${resp.statusText}`);
    }
    if (body === null) throw new APIError(resp.status, 'The API answered something that is not JSON.');
    return body;
  }

  function askForKey(wasRefused) {
    $('key-message').textContent = wasRefused
      ? 'The API key was refused (401 Unauthorized). Check the server\'s API_KEY and enter it again.'
      : 'This API asks for a key (401 Unauthorized). Enter the server\'s API_KEY.';
    show($('key-form'), true);
    $('key-input').value = '';
    $('key-input').focus();
  }

  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $('key-input').value.trim());
    $('key-input').value = '';
    show($('key-form'), false);
    updateForget();
    options = null; // read again with the key
    route();
    if (location.hash === '#person' && $('p-id').value.trim()) loadPerson();
  });
  $('forget-key').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    updateForget();
  });
  function updateForget() { show($('forget-key'), Boolean(sessionStorage.getItem(KEY))); }

  function showError(box, err) {
    box.textContent = err instanceof APIError || err instanceof Error ? err.message : String(err);
    show(box, true);
  }

  // ---- Views --------------------------------------------------------------------

  const views = ['report', 'person', 'detect'];
  function route() {
    const name = views.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'report';
    for (const v of views) {
      show($('view-' + v), v === name);
      if (v === name) $('tab-' + v).setAttribute('aria-current', 'page');
      else $('tab-' + v).removeAttribute('aria-current');
    }
    document.title = { report: 'Report', person: 'Person', detect: 'Try the detector' }[name] + ' · Attribution';
    if (name === 'report') initReport();
    if (name === 'person') initPerson();
  }
  window.addEventListener('hashchange', route);

  // ---- Options (events, models, dimensions) ---------------------------------------

  let options = null;
  async function loadOptions() {
    if (options) return options;
    const o = await api('api/report/options');
    options = {
      events: o.events || [], models: o.models || [], dimensions: o.dimensions || [],
      timezone: o.timezone || 'UTC', lookbackDays: o.lookbackDays, halfLifeDays: o.halfLifeDays,
    };
    fill($('r-event'), options.events.map((e) => [e, e]));
    fill($('r-model'), [...options.models.map((m) => [m, modelName(m)]), ['all', 'Compare all models']]);
    fill($('r-by'), options.dimensions.map((d) => [d, dimensionName(d)]));
    fill($('p-model'), options.models.map((m) => [m, modelName(m)]));
    if (options.models.includes('linear')) { $('r-model').value = 'linear'; $('p-model').value = 'linear'; }
    if (!$('r-to').value) {
      const today = todayIn(options.timezone);
      $('r-to').value = today;
      $('r-from').value = addDays(today, -89);
    }
    return options;
  }
  function fill(select, pairs) {
    const keep = select.value;
    select.replaceChildren(...pairs.map(([v, label]) => el('option', { value: v }, label)));
    if (pairs.some(([v]) => v === keep)) select.value = keep;
  }
  const MODEL_NAMES = { first: 'First touch', last: 'Last touch', last_non_direct: 'Last non-direct', linear: 'Linear', position: 'Position (40/20/40)', time_decay: 'Time decay', markov: 'Markov chain', shapley: 'Shapley' };
  function modelName(m) { return MODEL_NAMES[m] || m; }
  function dimensionName(d) { return d.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()); }

  // Dates are calendar days (YYYY-MM-DD) in the report's time zone.
  function todayIn(tz) {
    try { return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date()); } catch { return new Date().toISOString().slice(0, 10); }
  }
  function addDays(day, n) {
    const d = new Date(day + 'T00:00:00Z');
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  function weekday(day) { return new Date(day + 'T00:00:00Z').getUTCDay(); }

  // ---- Report -------------------------------------------------------------------

  let reportStarted = false;
  let reportSeq = 0;
  let shown = null; // what is on screen: {query, report, trend}
  async function initReport() {
    if (reportStarted && options) return;
    reportStarted = true;
    const status = $('r-status');
    status.textContent = 'Loading…';
    show($('r-error'), false);
    try {
      await loadOptions();
    } catch (err) {
      status.textContent = '';
      reportStarted = false;
      showError($('r-error'), err);
      return;
    }
    if (options.events.length === 0) {
      status.textContent = '';
      $('report-form').querySelectorAll('select, input, button').forEach((c) => { c.disabled = true; });
      emptyState($('r-empty'), [
        el('p', {}, el('strong', {}, 'No conversion events are configured.')),
        el('p', {}, 'Name the track events that count as conversions in ', el('code', {}, 'CONVERSION_EVENTS'),
          ' (comma separated) in .env or the environment, then restart the server (or redeploy):'),
        el('pre', {}, 'CONVERSION_EVENTS="Signed Up,Order Completed"'),
      ]);
      return;
    }
    loadReport();
  }
  function emptyState(box, children) { box.replaceChildren(...children); show(box, true); }

  $('report-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadReport(); });
  for (const id of ['r-event', 'r-model', 'r-by', 'r-from', 'r-to']) {
    $(id).addEventListener('change', () => { if ($('report-form').checkValidity()) loadReport(); });
  }

  function reportQuery() {
    return { event: $('r-event').value, from: $('r-from').value, to: $('r-to').value, model: $('r-model').value, by: $('r-by').value };
  }

  async function loadReport() {
    const seq = ++reportSeq;
    const q = reportQuery();
    const status = $('r-status');
    status.textContent = 'Loading…';
    show($('r-error'), false);
    let report, paths;
    try {
      [report, paths] = await Promise.all([
        api('api/report', q),
        api('api/report/paths', { event: q.event, from: q.from, to: q.to, limit: 10 }),
      ]);
    } catch (err) {
      if (seq !== reportSeq) return;
      status.textContent = '';
      show($('r-body'), false);
      show($('r-empty'), false);
      showError($('r-error'), err);
      return;
    }
    if (seq !== reportSeq) return;
    shown = { query: q, report, paths, trend: null };
    status.textContent = '';
    if (!report.rows || report.rows.length === 0) {
      show($('r-body'), false);
      emptyState($('r-empty'), noConversions(q));
      $('r-empty').dataset.query = new URLSearchParams(q).toString();
      return;
    }
    show($('r-empty'), false);
    show($('r-body'), true);
    renderReport();
    renderPaths(paths);
    // Marks what the table shows, for whoever waits for it (the browser tests).
    $('r-table').dataset.query = new URLSearchParams(q).toString();
    loadTrend(seq, q);
  }

  function noConversions(q) {
    const now = new Date().toISOString();
    const body = JSON.stringify({
      type: 'track', event: q.event, userId: 'user-1', messageId: 'first-conversion-' + Date.now(),
      timestamp: now, properties: { revenue: 49, currency: 'USD' },
    });
    return [
      el('p', {}, el('strong', {}, `No ${q.event} conversions between ${q.from} and ${q.to}.`)),
      el('p', {}, 'Widen the dates, or post one with this curl (a page view for user-1 first gives it a touch to credit; with SEGMENT_SHARED_SECRET set, add its X-Signature header):'),
      el('pre', {}, `curl -s ${location.origin}/events -H 'Content-Type: application/json' -d '${body.replace(/'/g, "'\\''")}'`),
    ];
  }

  function renderReport() {
    const { report, query } = shown;
    const compare = query.model === 'all';
    const t = report.totals || {};
    $('r-totals').replaceChildren(...[
      total('Credited conversions', fmtConversions.format(t.conversions || 0), 'total-conversions'),
      total('Revenue', revenueText(t.revenue), 'total-revenue'),
      total('Model', compare ? 'All models' : modelName(report.model || query.model)),
      total('Lookback', report.lookbackDays ? fmtCount.format(report.lookbackDays) + ' days' : '—'),
      // Data-driven models may come from a periodic precomputation: say how fresh it is.
      report.computedAt ? total('Computed', when(report.computedAt)) : null,
    ].filter(Boolean));
    // A column per model needs the full width: the chart goes above the table.
    $('r-chart').parentElement.classList.toggle('stacked', compare);
    if (compare) renderCompare(report, query);
    else renderSingle(report, query);
  }
  function total(label, value, id) {
    return el('div', {}, el('span', { className: 'label' }, label), el('span', { className: 'value', id }, value));
  }

  function currencies(rows, pick) {
    const set = new Set();
    for (const r of rows) for (const c of Object.keys(pick(r) || {})) set.add(c);
    return [...set].sort();
  }

  function renderSingle(report, q) {
    const rows = report.rows;
    const dim = dimensionName(q.by);
    const table = $('r-table');
    table.replaceChildren(
      el('caption', { className: 'sr-only' }, `Credited ${q.event} conversions by ${dim}, ${modelName(q.model)} model`),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, dim), el('th', { scope: 'col', className: 'num' }, 'Conversions'),
        el('th', { scope: 'col', className: 'num' }, 'Share'), el('th', { scope: 'col', className: 'num' }, 'Revenue'))),
      el('tbody', {}, rows.map((r) => el('tr', { 'data-key': r.key },
        el('th', { scope: 'row' }, r.key),
        el('td', { className: 'num', 'data-col': 'conversions' }, fmtConversions.format(r.conversions)),
        el('td', { className: 'num', 'data-col': 'share' }, fmtShare.format(r.share || 0)),
        el('td', { className: 'num', 'data-col': 'revenue' }, revenueText(r.revenue))))),
    );
    drawBars($('r-chart'), rows.slice(0, MAX_BAR_ROWS), `Credited conversions by ${dim}`,
      rows.length > MAX_BAR_ROWS ? `The ${MAX_BAR_ROWS} largest of ${rows.length} rows; the table lists them all.` : 'The table lists the same numbers.');
  }

  // The rank of each row under each model: 1 is the most credited; ties share the
  // order of the keys so that equal numbers never count as a change.
  function ranks(rows, models) {
    const out = {};
    for (const m of models) {
      const sorted = rows.map((r) => [r.key, round1(((r.models || {})[m] || {}).conversions || 0)])
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      let rank = 0, prev = null;
      sorted.forEach(([key, v], i) => { if (v !== prev) { rank = i + 1; prev = v; } (out[key] ||= {})[m] = rank; });
    }
    return out;
  }
  function round1(x) { return Math.round(x * 10) / 10; }

  function renderCompare(report, q) {
    const rows = report.rows;
    const models = modelsIn(rows);
    const rk = ranks(rows, models);
    const changed = (key) => new Set(models.map((m) => rk[key][m])).size > 1;
    const dim = dimensionName(q.by);
    const table = $('r-table');
    table.replaceChildren(
      el('caption', { className: 'sr-only' }, `Credited ${q.event} conversions by ${dim} under every model, with each row's rank`),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, dim),
        models.map((m) => el('th', { scope: 'col', className: 'num' }, modelName(m))))),
      el('tbody', {}, rows.map((r) => el('tr', { 'data-key': r.key, className: changed(r.key) ? 'rank-changed' : '' },
        el('th', { scope: 'row' }, r.key, changed(r.key) ? el('span', { className: 'badge' }, 'rank changes') : null),
        models.map((m) => {
          const v = (r.models || {})[m] || {};
          return el('td', { className: 'num', 'data-col': m, title: revenueText(v.revenue) },
            fmtConversions.format(v.conversions || 0), el('span', { className: 'hint' }, ' #' + rk[r.key][m]));
        })))),
    );
    drawGrouped($('r-chart'), rows.slice(0, MAX_COMPARE_ROWS), models, `Credited conversions by ${dim}, per model`,
      (rows.length > MAX_COMPARE_ROWS ? `The ${MAX_COMPARE_ROWS} largest of ${rows.length} rows. ` : '') +
      'Rows marked "rank changes" are ordered differently by some models; hover a number in the table for its revenue.' +
      // The data-driven models come from a precomputation that may not cover this range yet.
      (report.notPrecomputed ? ' Not shown: the data-driven models, ' + report.notPrecomputed : ''));
  }
  function modelsIn(rows) {
    const listed = options ? options.models : [];
    const seen = new Set();
    for (const r of rows) for (const m of Object.keys(r.models || {})) seen.add(m);
    return [...listed.filter((m) => seen.has(m)), ...[...seen].filter((m) => !listed.includes(m)).sort()];
  }

  // ---- Charts -------------------------------------------------------------------

  function chartWidth(fig) { return Math.max(280, Math.floor(fig.clientWidth || fig.parentElement.clientWidth || 600)); }
  function clipLabel(s, max) { return s.length > max ? s.slice(0, max - 1) + '…' : s; }
  function caption(text) { return el('figcaption', {}, text); }
  function svgRoot(width, height, title) {
    const id = 'c' + Math.random().toString(36).slice(2);
    return svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-labelledby': id },
      svg('title', { id }, title));
  }

  function drawBars(fig, rows, title, note) {
    const width = chartWidth(fig);
    const narrow = width < 420;
    const labelW = Math.min(170, Math.floor(width * 0.34));
    const values = rows.map((r) => fmtConversions.format(r.conversions) + (narrow ? '' : ' · ' + revenueText(r.revenue)));
    // Room for the longest value beside its bar, at about 7 px per character.
    const valueW = Math.min(Math.floor(width * 0.45), 12 + 7 * Math.max(...values.map((v) => v.length)));
    const barH = 22, gap = 8, top = 4;
    const height = top + rows.length * (barH + gap);
    const max = Math.max(...rows.map((r) => r.conversions), 1e-9);
    const area = Math.max(20, width - labelW - valueW - 6);
    const root = svgRoot(width, height, title);
    rows.forEach((r, i) => {
      const y = top + i * (barH + gap);
      const w = Math.max(1, (r.conversions / max) * area);
      root.append(
        svg('text', { x: labelW - 6, y: y + barH / 2 + 4, 'text-anchor': 'end' }, clipLabel(r.key, Math.floor(labelW / 7)), svg('title', {}, r.key)),
        svg('rect', { x: labelW, y, width: w.toFixed(1), height: barH, fill: PALETTE[0], rx: 2 }),
        svg('text', { x: labelW + w + 6, y: y + barH / 2 + 4 }, values[i]),
      );
    });
    fig.replaceChildren(root, caption(note));
  }

  function drawGrouped(fig, rows, models, title, note) {
    const width = chartWidth(fig);
    const labelW = Math.min(170, Math.floor(width * 0.34));
    const barH = 7, inner = 1, gap = 12, top = 4;
    const groupH = models.length * (barH + inner);
    const height = top + rows.length * (groupH + gap);
    let max = 1e-9;
    for (const r of rows) for (const m of models) max = Math.max(max, ((r.models || {})[m] || {}).conversions || 0);
    const area = Math.max(20, width - labelW - 56);
    const root = svgRoot(width, height, title);
    rows.forEach((r, i) => {
      const y0 = top + i * (groupH + gap);
      root.append(svg('text', { x: labelW - 6, y: y0 + groupH / 2 + 4, 'text-anchor': 'end' }, clipLabel(r.key, Math.floor(labelW / 7)), svg('title', {}, r.key)));
      models.forEach((m, j) => {
        const v = ((r.models || {})[m] || {}).conversions || 0;
        const w = Math.max(1, (v / max) * area);
        root.append(svg('rect', { x: labelW, y: y0 + j * (barH + inner), width: w.toFixed(1), height: barH, fill: PALETTE[j % PALETTE.length] },
          svg('title', {}, `${r.key}, ${modelName(m)}: ${fmtConversions.format(v)}`)));
      });
    });
    fig.replaceChildren(legend(models.map(modelName)), root, caption(note));
  }

  function legend(names) {
    return el('ul', { className: 'legend' }, names.map((n, i) => {
      const sw = svg('svg', { width: 12, height: 12, 'aria-hidden': 'true', class: 'swatch' }, svg('rect', { width: 12, height: 12, rx: 2, fill: PALETTE[i % PALETTE.length] }));
      return el('li', {}, sw, n);
    }));
  }

  // Stacked columns: one per week, one colour per channel.
  function drawStacked(fig, weeks, series, title, note) {
    const width = chartWidth(fig);
    const left = 44, bottom = 22, top = 8, height = 220;
    const plotH = height - top - bottom;
    const totals = weeks.map((w) => series.reduce((s, name) => s + (w.values[name] || 0), 0));
    const max = Math.max(...totals, 1e-9);
    const colW = (width - left - 8) / Math.max(1, weeks.length);
    const root = svgRoot(width, height, title);
    for (const f of [0, 0.5, 1]) {
      const y = top + plotH - f * plotH;
      root.append(svg('line', { x1: left, x2: width - 4, y1: y, y2: y, stroke: '#d0d7de' }),
        svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, fmtConversions.format(max * f)));
    }
    weeks.forEach((w, i) => {
      let y = top + plotH;
      const x = left + i * colW + colW * 0.15;
      series.forEach((name, j) => {
        const v = w.values[name] || 0;
        if (v <= 0) return;
        const h = (v / max) * plotH;
        y -= h;
        root.append(svg('rect', { x: x.toFixed(1), y: y.toFixed(1), width: (colW * 0.7).toFixed(1), height: h.toFixed(1), fill: PALETTE[j % PALETTE.length] },
          svg('title', {}, `${w.from}, ${name}: ${fmtConversions.format(v)}`)));
      });
      const every = Math.ceil(weeks.length / Math.max(1, Math.floor((width - left) / 56)));
      if (i % every === 0) root.append(svg('text', { x: (x + colW * 0.35).toFixed(1), y: height - 6, 'text-anchor': 'middle' }, w.from.slice(5)));
    });
    fig.replaceChildren(legend(series), root, caption(note));
  }

  // ---- Trend ----------------------------------------------------------------------

  // The weekly trend is one report per calendar week (Monday to Sunday, cut to the
  // range), by channel, under the chosen model (linear when comparing).
  function weeksOf(from, to) {
    const out = [];
    let start = addDays(from, -((weekday(from) + 6) % 7));
    while (start <= to) {
      const end = addDays(start, 6);
      out.push({ from: start < from ? from : start, to: end > to ? to : end });
      start = addDays(start, 7);
    }
    return out;
  }

  async function loadTrend(seq, q) {
    const model = q.model === 'all' ? (options.models.includes('linear') ? 'linear' : options.models[0]) : q.model;
    let weeks = weeksOf(q.from, q.to);
    const cut = weeks.length > MAX_TREND_WEEKS;
    if (cut) weeks = weeks.slice(-MAX_TREND_WEEKS);
    $('trend-title').textContent = `Conversions per week by channel (${modelName(model)})`;
    $('r-trend').replaceChildren(caption('Loading…'));
    $('r-trend-table').replaceChildren();
    try {
      const results = await pool(weeks, 4, (w) => api('api/report', { event: q.event, from: w.from, to: w.to, model, by: 'channel' }));
      if (seq !== reportSeq) return;
      const sums = {};
      const data = weeks.map((w, i) => {
        const values = {};
        for (const r of results[i].rows || []) { values[r.key] = r.conversions; sums[r.key] = (sums[r.key] || 0) + r.conversions; }
        return { from: w.from, to: w.to, values };
      });
      let names = Object.keys(sums).sort((a, b) => sums[b] - sums[a] || (a < b ? -1 : 1));
      if (names.length > MAX_TREND_SERIES) {
        const rest = names.slice(MAX_TREND_SERIES - 1);
        names = [...names.slice(0, MAX_TREND_SERIES - 1), 'Other'];
        for (const d of data) d.values.Other = rest.reduce((s, n) => s + (d.values[n] || 0), 0);
      }
      shown.trend = { model, weeks: data, series: names };
      drawStacked($('r-trend'), data, names, 'Credited conversions per week by channel',
        (cut ? `The last ${MAX_TREND_WEEKS} weeks of the range. ` : '') + 'Weeks start on Monday; the table lists the same numbers.');
      $('r-trend-table').replaceChildren(
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Week from'), names.map((n) => el('th', { scope: 'col', className: 'num' }, n)), el('th', { scope: 'col', className: 'num' }, 'Total'))),
        el('tbody', {}, data.map((d) => el('tr', { 'data-week': d.from }, el('th', { scope: 'row' }, d.from),
          names.map((n) => el('td', { className: 'num' }, fmtConversions.format(d.values[n] || 0))),
          el('td', { className: 'num' }, fmtConversions.format(names.reduce((s, n) => s + (d.values[n] || 0), 0)))))),
      );
      $('r-trend-table').dataset.query = new URLSearchParams(q).toString();
    } catch (err) {
      if (seq !== reportSeq) return;
      $('r-trend').replaceChildren(el('p', { className: 'error', role: 'alert' }, 'The weekly trend could not be loaded: ' + err.message));
    }
  }

  // pool runs fn over items, at most n at a time, keeping the results in order.
  async function pool(items, n, fn) {
    const out = new Array(items.length);
    let next = 0;
    const worker = async () => { while (next < items.length) { const i = next++; out[i] = await fn(items[i]); } };
    await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
    return out;
  }

  // ---- Paths ----------------------------------------------------------------------

  function renderPaths(p) {
    const paths = (p && p.paths) || [];
    $('r-paths').replaceChildren(
      el('caption', { className: 'sr-only' }, 'Top conversion paths'),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Path'), el('th', { scope: 'col', className: 'num' }, 'Conversions'), el('th', { scope: 'col', className: 'num' }, 'Revenue'))),
      el('tbody', {}, paths.length ? paths.map((row) => el('tr', { 'data-path': (row.path || []).join(' > ') },
        el('td', {}, el('span', { className: 'path' }, (row.path || []).flatMap((s, i) => i ? [' › ', el('span', { className: 'step' }, s)] : [el('span', { className: 'step' }, s)]))),
        el('td', { className: 'num' }, fmtConversions.format(row.conversions || 0)),
        el('td', { className: 'num' }, revenueText(row.revenue)))) : el('tr', {}, el('td', { colspan: 3 }, 'No paths in this range.'))),
    );
    distribution($('r-touches-to-convert'), 'Touches before converting', 'Touches', p && p.touchesToConvert);
    distribution($('r-days-to-convert'), 'Days from first touch to conversion', 'Days', p && p.daysToConvert);
  }
  function distribution(table, title, unit, counts) {
    const keys = Object.keys(counts || {}).sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : 1));
    table.replaceChildren(
      el('caption', {}, title),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, unit), el('th', { scope: 'col', className: 'num' }, 'Conversions'))),
      el('tbody', {}, keys.map((k) => el('tr', {}, el('th', { scope: 'row' }, k), el('td', { className: 'num' }, fmtConversions.format(counts[k]))))),
    );
  }

  // ---- CSV --------------------------------------------------------------------------

  // csvCell quotes what needs it, and defuses text a spreadsheet would run as a formula:
  // row keys come from utm_* values that anyone can put in a link.
  function csvCell(v) {
    let s = String(v ?? '');
    if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\n\r']/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  // csv is the report on screen: its rows, with every number unrounded.
  function reportCSV() {
    const { report, query } = shown;
    const lines = [];
    if (query.model === 'all') {
      const models = modelsIn(report.rows);
      const cur = currencies(report.rows.flatMap((r) => Object.values(r.models || {})), (v) => v.revenue);
      const rk = ranks(report.rows, models);
      lines.push([query.by, ...models.map((m) => m + '_conversions'), ...models.flatMap((m) => cur.map((c) => `${m}_revenue_${c}`)), 'rank_changes']);
      for (const r of report.rows) {
        const ms = r.models || {};
        lines.push([r.key, ...models.map((m) => (ms[m] || {}).conversions || 0),
          ...models.flatMap((m) => cur.map((c) => ((ms[m] || {}).revenue || {})[c] || 0)),
          new Set(models.map((m) => rk[r.key][m])).size > 1]);
      }
    } else {
      const cur = currencies(report.rows, (r) => r.revenue);
      lines.push([query.by, 'conversions', 'share', ...cur.map((c) => 'revenue_' + c)]);
      for (const r of report.rows) lines.push([r.key, r.conversions, r.share, ...cur.map((c) => (r.revenue || {})[c] || 0)]);
    }
    return lines.map((l) => l.map(csvCell).join(',')).join('\r\n') + '\r\n';
  }
  $('r-csv').addEventListener('click', () => {
    if (!shown || !shown.report || !(shown.report.rows || []).length) {
      showError($('r-error'), new Error('Nothing to download: show a report with conversions first.'));
      return;
    }
    const q = shown.query;
    const a = el('a', { href: URL.createObjectURL(new Blob([reportCSV()], { type: 'text/csv' })), download: `report-${q.event}-${q.from}-${q.to}-${q.model}-${q.by}.csv`.replace(/[^\w.-]+/g, '_') });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  });

  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (!shown || $('r-body').hidden) return;
      renderReport();
      if (shown.trend) drawStacked($('r-trend'), shown.trend.weeks, shown.trend.series, 'Credited conversions per week by channel', 'Weeks start on Monday; the table lists the same numbers.');
    }, 150);
  });

  // ---- Person -------------------------------------------------------------------

  let person = null; // {kind, id, profile, conversions: [...], conversionErrors: [...]}
  async function initPerson() {
    if (!options) {
      try { await loadOptions(); } catch (err) { showError($('p-error'), err); }
    }
  }
  $('person-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadPerson(); });
  $('p-model').addEventListener('change', () => { if (person) renderPerson(); });

  async function loadPerson() {
    const kind = $('p-kind').value, id = $('p-id').value.trim();
    if (!id) return;
    const status = $('p-status');
    status.textContent = 'Loading…';
    show($('p-error'), false);
    show($('p-body'), false);
    try {
      const profile = await api(`api/${kind}/${encodeURIComponent(id)}`, { limit: 1000 });
      const users = kind === 'user' ? [id] : (profile.userIds || []).slice(0, 5);
      const conversions = [], conversionErrors = [];
      await Promise.all(users.map(async (u) => {
        try {
          const c = await api(`api/user/${encodeURIComponent(u)}/conversions`);
          for (const conv of c.conversions || []) conversions.push({ ...conv, userId: conv.userId || u });
        } catch (err) {
          if (err.status !== 404) conversionErrors.push(err.message); // 404: no conversions known
        }
      }));
      person = { kind, id, profile, conversions, conversionErrors };
      status.textContent = '';
      renderPerson();
    } catch (err) {
      status.textContent = '';
      showError($('p-error'), err.status === 404 ? new Error(`No ${kind === 'user' ? 'userId' : 'anonymousId'} "${id}" is known: ${err.message}`) : err);
    }
  }

  function touchChannel(t) { return (t.description && t.description.channel) || t.channel || '(none)'; }
  function touchSource(t) {
    const d = t.description || {}, r = d.referrer || {}, c = d.campaign || {};
    const name = r.engine || r.network || r.client || r.assistant || r.site || '';
    const parts = [r.type ? r.type + (name ? ': ' + name : '') : ''];
    if (c.source || c.medium || c.campaign) parts.push('utm ' + [c.source, c.medium, c.campaign].filter(Boolean).join(' / '));
    return parts.filter(Boolean).join(' · ');
  }

  function renderPerson() {
    const { kind, id, profile, conversions, conversionErrors } = person;
    const model = $('p-model').value;
    const events = profile.events || [];
    const eventIds = new Set(events.map((e) => e.messageId));
    const otherIds = kind === 'user' ? profile.anonymousIds || [] : profile.userIds || [];
    const touches = profile.touches || [];
    $('p-summary').replaceChildren(
      el('dt', {}, kind === 'user' ? 'userId' : 'anonymousId'), el('dd', {}, id),
      el('dt', {}, kind === 'user' ? 'anonymousIds' : 'userIds'), el('dd', {}, otherIds.length ? otherIds.join(', ') : 'none'),
      el('dt', {}, 'Touches'), el('dd', { id: 'p-touch-count' }, fmtCount.format(touches.length)),
      el('dt', {}, 'First touch'), el('dd', {}, profile.firstTouch ? touchChannel(profile.firstTouch) : '—'),
      el('dt', {}, 'Last touch'), el('dd', {}, profile.lastTouch ? touchChannel(profile.lastTouch) : '—'),
      el('dt', {}, 'Conversions'), el('dd', { id: 'p-conversion-count' }, fmtCount.format(conversions.length)),
    );

    const items = [];
    for (const t of touches) {
      items.push({ at: t.timestamp, kind: 'touch', messageId: t.messageId, node: [
        el('div', { className: 'what' }, 'Touch: ', el('span', { 'data-col': 'channel' }, touchChannel(t))),
        el('div', { className: 'detail' }, touchSource(t)),
        el('div', { className: 'detail' }, t.url || ''),
        t.referrer ? el('div', { className: 'detail hint' }, 'from ' + t.referrer) : null,
      ] });
    }
    for (const l of profile.identities || []) {
      items.push({ at: l.firstSeen, kind: 'link', messageId: l.messageId, node: [
        el('div', { className: 'what' }, `Linked by ${l.source || 'identify'}`),
        el('div', { className: 'detail' }, `anonymousId ${l.anonymousId} ↔ userId ${l.userId}`),
      ] });
    }
    for (const c of conversions) items.push({ at: c.timestamp, kind: 'conversion', messageId: c.messageId, node: conversionNode(c, model, eventIds) });
    items.sort((a, b) => String(a.at).localeCompare(String(b.at)));

    $('p-timeline').replaceChildren(...items.map((it) => el('li', { className: it.kind, 'data-kind': it.kind, 'data-message-id': it.messageId || '' },
      el('div', { className: 'when' }, when(it.at)), it.node, rawLink(it.messageId, eventIds))));
    if (!items.length) $('p-timeline').append(el('li', {}, 'No touches, links or conversions yet.'));
    $('p-conversion-error').textContent = conversionErrors.length ? 'Conversions could not be loaded: ' + conversionErrors.join('; ') : '';
    show($('p-conversion-error'), conversionErrors.length > 0);

    $('p-events-note').textContent = profile.cursor
      ? `The newest ${fmtCount.format(events.length)} events; older ones are not shown.`
      : `All ${fmtCount.format(events.length)} stored events, newest first.`;
    $('p-events').replaceChildren(...events.map((e) => el('details', { id: 'ev-' + e.messageId },
      el('summary', {}, `${when(e.timestamp)} · ${e.type}${eventName(e)} · ${e.messageId}`),
      el('pre', {}, JSON.stringify(e.event ?? e, null, 2)))));
    show($('p-body'), true);
  }
  function eventName(e) { return e.event && typeof e.event === 'object' && e.event.event ? ' ' + e.event.event : ''; }

  function rawLink(messageId, eventIds, label) {
    if (!messageId) return null;
    if (!eventIds.has(messageId)) return el('div', { className: 'hint' }, `event ${messageId} (not among the events listed below)`);
    const a = el('a', { href: '#ev-' + messageId, className: 'raw', 'aria-label': 'raw event ' + messageId }, label || 'raw event ' + messageId);
    a.addEventListener('click', (ev) => {
      ev.preventDefault(); // the hash is the view; open the event in place instead
      const d = document.getElementById('ev-' + messageId);
      d.open = true;
      d.scrollIntoView({ block: 'center' });
      d.querySelector('summary').focus();
    });
    return el('div', {}, a);
  }

  // A conversion's credits live on the touches of its window, one share per model; a
  // conversion with no touch in its window is wholly the row "(none)".
  function conversionNode(c, model, eventIds) {
    const value = typeof c.value === 'number' ? c.value : Number(c.value || 0);
    const currency = c.currency || 'USD';
    const touches = c.touches || [];
    const rows = touches.length
      ? touches.map((t) => el('tr', { 'data-message-id': t.messageId },
        el('td', {}, when(t.timestamp)),
        el('td', { 'data-col': 'channel' }, touchChannel(t)),
        el('td', {}, touchSource(t)),
        el('td', { className: 'num', 'data-col': 'credit' }, fmtShare.format((t.credits || {})[model] || 0)),
        el('td', { className: 'num', 'data-col': 'revenue' }, money(((t.credits || {})[model] || 0) * value, currency)),
        el('td', {}, rawLink(t.messageId, eventIds, 'raw'))))
      : [el('tr', {}, el('td', {}, '—'), el('td', { 'data-col': 'channel' }, '(none)'), el('td', {}, 'no touch in the lookback window'),
        el('td', { className: 'num', 'data-col': 'credit' }, fmtShare.format(1)), el('td', { className: 'num', 'data-col': 'revenue' }, money(value, currency)), el('td', {}))];
    return [
      el('div', { className: 'what' }, `Conversion: ${c.event || ''} `, el('span', { 'data-col': 'value' }, money(value, currency))),
      el('div', { className: 'table-wrap' }, el('table', {},
        el('caption', { className: 'sr-only' }, `Credits under ${modelName(model)}`),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Touch'), el('th', { scope: 'col' }, 'Channel'), el('th', { scope: 'col' }, 'Source'),
          el('th', { scope: 'col', className: 'num' }, `Credit (${modelName(model)})`), el('th', { scope: 'col', className: 'num' }, 'Revenue'), el('th', { scope: 'col' }, 'Event'))),
        el('tbody', {}, rows))),
    ];
  }

  // ---- Detector -----------------------------------------------------------------

  $('detect-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    show($('d-error'), false);
    try {
      const r = await api('api/detect', { url: $('d-url').value.trim(), referrer: $('d-referrer').value.trim() });
      const d = r.description || {};
      $('d-channel').textContent = d.channel || '(none)';
      const ref = d.referrer || {}, camp = d.campaign || {};
      const rows = [['Referrer type', ref.type]];
      for (const k of ['engine', 'network', 'client', 'assistant', 'site', 'query', 'from', 'link']) if (ref[k]) rows.push(['Referrer ' + k, ref[k]]);
      for (const k of ['source', 'medium', 'campaign', 'term', 'content']) if (camp[k]) rows.push(['utm_' + k, camp[k]]);
      $('d-fields').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v || '')]));
      $('d-json').textContent = JSON.stringify(d, null, 2);
      show($('d-body'), true);
    } catch (err) {
      show($('d-body'), false);
      showError($('d-error'), err);
    }
  });

  updateForget();
  route();
})();

// The status page's script (inlined into /status, allowed by its hash): fetches status.json every
// second, keeps the samples of the last ten minutes, and draws them on canvases. No library: a
// small line plotter. Every text from the server is set with textContent, never parsed as HTML
// (channel names come from Odoo and, through it, from browsers).
(() => {
  const HISTORY = 600;
  /** The plots show the last five minutes, or everything since the start when that is shorter. */
  const WINDOW_MS = 5 * 60 * 1000;
  const MIN_WINDOW_MS = 30 * 1000;
  const state = { t: [], values: {}, doc: undefined, failed: false };

  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const palette = () => ['--s1', '--s2', '--s3', '--s4', '--s5', '--s6', '--s7', '--s8'].map(css);
  const $ = (id) => document.getElementById(id);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  // --- Numbers -----------------------------------------------------------------------------------

  function compact(value) {
    if (value === null || value === undefined || !Number.isFinite(value)) return '–';
    const abs = Math.abs(value);
    if (abs >= 1e9) return `${(value / 1e9).toFixed(abs >= 1e10 ? 0 : 1)}G`;
    if (abs >= 1e6) return `${(value / 1e6).toFixed(abs >= 1e7 ? 0 : 1)}M`;
    if (abs >= 1e4) return `${(value / 1e3).toFixed(0)}k`;
    if (abs >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
    if (abs >= 100 || Number.isInteger(value)) return value.toFixed(0);
    if (abs >= 10) return value.toFixed(1);
    return value.toFixed(abs >= 1 ? 1 : 2);
  }

  function milliseconds(value) {
    if (value === null || value === undefined || !Number.isFinite(value)) return '–';
    if (value === 0) return '0 ms';
    if (value >= 1000) return `${(value / 1000).toFixed(value >= 10_000 ? 0 : 2)} s`;
    return `${value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2)} ms`;
  }

  function bytes(value) {
    if (value === null || value === undefined || !Number.isFinite(value)) return '–';
    if (value >= 1e9) return `${(value / 1e9).toFixed(1)} GB`;
    if (value >= 1e6) return `${(value / 1e6).toFixed(1)} MB`;
    if (value >= 1e3) return `${(value / 1e3).toFixed(1)} kB`;
    return `${value.toFixed(0)} B`;
  }

  function duration(seconds) {
    const d = Math.floor(seconds / 86400);
    const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    if (d > 0) return `${d}d ${h}h`;
    if (h > 0) return `${h}h ${m}m`;
    return `${m}m ${Math.floor(seconds % 60)}s`;
  }

  const FORMATS = { count: compact, rate: compact, ms: milliseconds, bytes: bytes };
  /** What the header of a plot says its values are. */
  const UNITS = { count: '', rate: '/s', ms: 'ms', bytes: 'B/s' };

  // --- Samples -----------------------------------------------------------------------------------

  function merge(series) {
    const before = state.t.length;
    for (const t of series.t) state.t.push(t);
    const added = series.t.length;
    for (const [name, points] of Object.entries(series.values)) {
      let kept = state.values[name];
      if (kept === undefined) {
        kept = new Array(before).fill(null);
        state.values[name] = kept;
      }
      for (const point of points) kept.push(point);
    }
    for (const kept of Object.values(state.values)) {
      while (kept.length < before + added) kept.push(null);
    }
    const drop = state.t.length - HISTORY;
    if (drop > 0) {
      state.t.splice(0, drop);
      for (const kept of Object.values(state.values)) kept.splice(0, drop);
    }
  }

  // --- Plots -------------------------------------------------------------------------------------

  /** Per database, websockets and long polls; a transport a database never used is left out. */
  const clientSeries = () => {
    const names = Object.keys(state.values)
      .filter((name) => name.startsWith('ws:') || name.startsWith('lp:'))
      .sort();
    const used = names.filter((name) => state.values[name].some((v) => v !== null && v > 0));
    return (used.length > 0 ? used : names).map((name) => [
      name,
      `${name.slice(3)} ${name.startsWith('ws:') ? 'websockets' : 'long polls'}`,
    ]);
  };

  const PLOTS = [
    { id: 'clients', title: 'Clients per database', unit: 'count', series: clientSeries },
    {
      id: 'deliveries',
      title: 'Deliveries',
      unit: 'rate',
      series: () => [
        ['deliveries', 'notifications'],
        ['frames', 'frames'],
        ['notifies', 'NOTIFYs'],
      ],
    },
    {
      id: 'latency',
      title: 'NOTIFY → read → socket write',
      unit: 'ms',
      series: () => [
        ['notifyToReadP50', 'read p50'],
        ['notifyToReadP99', 'read p99'],
        ['notifyToWriteP50', 'write p50'],
        ['notifyToWriteP99', 'write p99'],
      ],
    },
    {
      id: 'reads',
      title: 'bus_bus reads',
      unit: 'rate',
      series: () => [
        ['reads', 'reads'],
        ['rows', 'rows'],
        ['readErrors', 'errors'],
      ],
    },
    {
      id: 'odooCalls',
      title: 'Calls to Odoo',
      unit: 'rate',
      series: () => [
        ['odooCalls', 'calls'],
        ['odooErrors', 'errors'],
      ],
    },
    {
      id: 'odooSlots',
      title: 'Odoo calls in flight, queued',
      unit: 'count',
      series: () => [
        ['odooInFlight', 'in flight'],
        ['odooQueued', 'queued'],
      ],
      limit: () => state.doc?.odoo.concurrency,
    },
    {
      id: 'odooLatency',
      title: 'Odoo call latency',
      unit: 'ms',
      series: () => [
        ['odooP50', 'p50'],
        ['odooP99', 'p99'],
      ],
    },
    {
      id: 'listen',
      title: 'LISTEN round trip',
      unit: 'ms',
      series: () => [['roundTripMs', 'round trip']],
      down: 'listenUp',
      missing: 'no round-trip probe in this version; red: LISTEN down',
    },
    {
      id: 'holes',
      title: 'Late-commit holes watched',
      unit: 'count',
      series: () => [['holes', 'ids']],
    },
    {
      id: 'traffic',
      title: 'Websocket traffic',
      unit: 'bytes',
      series: () => [
        ['bytesOut', 'sent'],
        ['bytesIn', 'received'],
      ],
    },
    {
      id: 'closes',
      title: 'Closes by the server',
      unit: 'rate',
      series: () => [
        ['closes', 'closes'],
        ['slowConsumers', 'slow consumers'],
      ],
    },
    {
      id: 'readPool',
      title: 'Read pool',
      unit: 'count',
      series: () => [
        ['readInUse', 'in use'],
        ['readWaiting', 'waiting'],
      ],
      limit: () => state.doc?.totals.readPoolSize,
    },
  ];

  /** A tick step such that four steps reach `value`: 1, 2, 2.5 or 5 times a power of ten. */
  function tickStep(value, whole) {
    const wanted = value > 0 ? value / 4 : 0.25;
    const power = 10 ** Math.floor(Math.log10(wanted));
    let step = 10 * power;
    for (const factor of [1, 2, 2.5, 5]) {
      if (wanted <= factor * power) {
        step = factor * power;
        break;
      }
    }
    // Counts of things go by whole numbers.
    return whole ? Math.max(1, Math.ceil(step)) : step;
  }

  function axisLabel(value) {
    if (value !== 0 && Math.abs(value) < 1) return String(Number(value.toPrecision(2)));
    return compact(value);
  }

  function timeLabel(t, seconds) {
    const time = new Date(t);
    const two = (n) => String(n).padStart(2, '0');
    const hm = `${two(time.getHours())}:${two(time.getMinutes())}`;
    return seconds ? `${hm}:${two(time.getSeconds())}` : hm;
  }

  function buildPlots() {
    const grid = $('plots');
    for (const plot of PLOTS) {
      const card = el('section', undefined, 'card');
      const title = el('h2');
      title.append(el('span', plot.title), el('span', UNITS[plot.unit], 'unit'));
      plot.legend = el('div', undefined, 'legend');
      plot.canvas = el('canvas');
      plot.canvas.dataset.plot = plot.id;
      card.append(title, plot.legend, plot.canvas);
      grid.append(card);
    }
  }

  function draw(plot, now) {
    const canvas = plot.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const format = FORMATS[plot.unit];
    const span = Math.min(WINDOW_MS, Math.max(MIN_WINDOW_MS, now - (state.t[0] ?? now)));
    const from = now - span;
    const left = 36;
    const right = width - 6;
    const top = 6;
    const bottom = height - 16;
    const x = (t) => left + ((t - from) / span) * (right - left);
    const series = plot.series();
    const colors = palette();
    let first = 0;
    while (first < state.t.length && state.t[first] < from) first++;

    let max = 0;
    for (const [name] of series) {
      const points = state.values[name] ?? [];
      for (let i = first; i < points.length; i++) if (points[i] > max) max = points[i];
    }
    const limit = plot.limit?.();
    if (limit > max) max = limit;
    const step = tickStep(max * 1.05, plot.unit === 'count');
    const ceiling = step * 4;
    const y = (v) => bottom - (v / ceiling) * (bottom - top);

    ctx.font = '10px system-ui, sans-serif';
    ctx.lineWidth = 1;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (let i = 0; i <= 4; i++) {
      const v = step * i;
      ctx.strokeStyle = css('--grid');
      ctx.beginPath();
      ctx.moveTo(left, Math.round(y(v)) + 0.5);
      ctx.lineTo(right, Math.round(y(v)) + 0.5);
      ctx.stroke();
      ctx.fillStyle = css('--muted');
      ctx.fillText(axisLabel(v), left - 5, y(v));
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const every = span <= 90_000 ? 15_000 : span <= 180_000 ? 30_000 : 60_000;
    for (let tick = Math.ceil(from / every) * every; tick <= now; tick += every) {
      if (x(tick) < left + 16 || x(tick) > right - 16) continue;
      ctx.fillText(timeLabel(tick, every < 60_000), x(tick), bottom + 3);
    }

    if (plot.down !== undefined) {
      // Seconds the LISTEN connection was down, shaded.
      const up = state.values[plot.down] ?? [];
      ctx.fillStyle = 'rgba(255, 100, 100, 0.18)';
      for (let i = first; i < state.t.length; i++) {
        if (up[i] !== 0) continue;
        const from = x(state.t[i] - 1000);
        ctx.fillRect(from, top, x(state.t[i]) - from, bottom - top);
      }
    }
    if (limit > 0) {
      ctx.strokeStyle = css('--muted');
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(left, y(limit));
      ctx.lineTo(right, y(limit));
      ctx.stroke();
      ctx.setLineDash([]);
    }

    const last = {};
    let plotted = 0;
    plot.legend.replaceChildren();
    series.forEach(([name, label], index) => {
      const points = state.values[name] ?? [];
      const value = (i) => (points[i] === null || points[i] === undefined ? null : points[i]);
      const color = colors[index % colors.length];
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.lineWidth = 1.6;
      ctx.lineJoin = 'round';
      ctx.beginPath();
      let open = false;
      let latest = null;
      for (let i = first; i < state.t.length; i++) {
        const v = value(i);
        if (v === null) {
          open = false;
          continue;
        }
        if (open) ctx.lineTo(x(state.t[i]), y(v));
        else ctx.moveTo(x(state.t[i]), y(v));
        // A value alone between gaps (a second with one call to Odoo) is a dot, not nothing.
        if (!open && value(i + 1) === null) ctx.fillRect(x(state.t[i]) - 1.5, y(v) - 1.5, 3, 3);
        open = true;
        latest = v;
        plotted++;
      }
      ctx.stroke();
      last[name] = latest;
      const item = el('span');
      const swatch = el('i');
      swatch.style.background = color;
      item.append(swatch, el('span', label), el('b', format(latest)));
      plot.legend.append(item);
    });
    if (plot.missing !== undefined && series.every(([name]) => state.values[name] === undefined)) {
      ctx.fillStyle = css('--muted');
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText(plot.missing, (left + right) / 2, (top + bottom) / 2);
    }
    canvas.dataset.points = String(plotted);
    canvas.dataset.last = JSON.stringify(last);
    canvas.dataset.max = String(ceiling);
  }

  // --- Header, figures, tables --------------------------------------------------------------------

  function badge(node, text, tone) {
    node.className = `badge ${tone}`;
    node.replaceChildren(el('span', undefined, 'dot'), el('span', text));
  }

  function lastValue(name) {
    const points = state.values[name] ?? [];
    for (let i = points.length - 1; i >= 0; i--) if (points[i] !== null) return points[i];
    return null;
  }

  function renderHeader(doc) {
    $('version').textContent = doc.version;
    $('node').textContent = doc.node;
    $('uptime').textContent = duration(doc.uptimeSeconds);
    const processInfo = $('process');
    const notReady = doc.workerStates.filter((worker) => !worker.ready).length;
    processInfo.textContent =
      doc.workers > 1
        ? `${doc.workerStates.length}/${doc.workers} workers${notReady > 0 ? `, ${notReady} not ready` : ''}`
        : `pid ${doc.pid}`;
    processInfo.title = doc.workerStates
      .map((w) => `pid ${w.pid}: ${w.ready ? 'ready' : 'not ready'}, ${w.sockets} sockets`)
      .join('\n');
    const failing = Object.entries(doc.checks)
      .filter(([, ok]) => !ok)
      .map(([name]) => name);
    badge(
      $('ready'),
      doc.ready ? 'ready' : `not ready: ${failing.join(', ')}`,
      doc.ready ? 'good' : 'bad',
    );
    const listen = doc.listen;
    const roundTrip = listen.roundTripMs === null ? '' : ` · ${milliseconds(listen.roundTripMs)}`;
    if (listen.up === null) badge($('listen'), 'LISTEN unknown', 'muted');
    else
      badge(
        $('listen'),
        listen.up ? `LISTEN up${roundTrip}` : 'LISTEN down',
        listen.up ? 'good' : 'bad',
      );
    badge($('live'), state.failed ? 'stale' : 'live', state.failed ? 'warn' : 'good');
  }

  function renderFigures(doc) {
    const totals = doc.totals;
    const figures = [
      ['Websockets', compact(totals.sockets), `${compact(totals.websocketSessions)} sessions`],
      ['Long polls held', compact(totals.polls), `${compact(totals.longpollingSessions)} sessions`],
      [
        'Deliveries',
        `${compact(lastValue('deliveries'))}/s`,
        `${compact(lastValue('frames'))} frames/s`,
      ],
      [
        'NOTIFY → write p99',
        milliseconds(lastValue('notifyToWriteP99')),
        `read p99 ${milliseconds(lastValue('notifyToReadP99'))}`,
      ],
      [
        'Odoo in flight / queued',
        `${compact(totals.odooInFlight)} / ${compact(totals.odooQueued)}`,
        `limit ${compact(doc.odoo.concurrency)} / ${compact(doc.odoo.queueLimit)}`,
      ],
      [
        'Subscriptions',
        compact(totals.subscriptions),
        `${compact(totals.channels)} channels, ${compact(totals.holes)} holes`,
      ],
    ];
    const kpis = $('kpis');
    kpis.replaceChildren(
      ...figures.map(([label, value, sub]) => {
        const tile = el('div', undefined, 'kpi');
        tile.append(el('div', label, 'label'), el('div', value, 'value'), el('div', sub, 'sub'));
        return tile;
      }),
    );
  }

  function table(id, headings, rows, empty) {
    const target = $(id);
    if (rows.length === 0) {
      target.replaceChildren(el('div', empty, 'empty'));
      return;
    }
    const head = el('tr');
    for (const heading of headings) head.append(el('th', heading));
    const body = rows.map((cells) => {
      const row = el('tr');
      for (const cell of cells) {
        const [text, className, title] = Array.isArray(cell) ? cell : [cell, undefined, undefined];
        const td = el('td', text, className);
        if (title !== undefined) td.title = title;
        else if (className === 'name') td.title = String(text);
        row.append(td);
      }
      return row;
    });
    const node = el('table');
    node.append(head, ...body);
    target.replaceChildren(node);
  }

  function renderTables(doc) {
    table(
      'databases',
      ['database', 'sockets', 'polls', 'holes', 'reads', 'wait'],
      doc.databases.map((d) => [
        [d.db, 'name'],
        compact(d.websockets),
        compact(d.longPolls),
        compact(d.holes),
        [
          `${d.readInUse}/${d.readIdle}`,
          undefined,
          `read connections: ${d.readInUse} running a query, ${d.readIdle} idle`,
        ],
        [compact(d.readWaiting), d.readWaiting > 0 ? 'bad' : undefined],
      ]),
      'No database served yet.',
    );
    table(
      'routes',
      ['route (last hour)', 'calls', 'errors', 'p50', 'p99'],
      doc.odoo.routes.map((r) => [
        [r.route, 'name'],
        compact(r.calls),
        [compact(r.errors), r.errors > 0 ? 'bad' : undefined],
        milliseconds(r.p50Ms),
        milliseconds(r.p99Ms),
      ]),
      'No call to Odoo in the last hour.',
    );
    table(
      'closes',
      ['code', 'last hour', 'meaning'],
      doc.closeCodes.map((c) => [c.code, compact(c.count), [c.meaning, 'meaning']]),
      'No socket closed by the server in the last hour.',
    );
    table(
      'channels',
      ['channel', 'subscribers'],
      doc.topChannels.map((c) => [[c.channel, 'name'], compact(c.subscribers)]),
      'No channel has two subscribers.',
    );
    const config = $('config');
    config.replaceChildren(
      ...doc.config.map(({ key, value }) => {
        const row = el('div');
        const shown = el('span', value);
        shown.title = value;
        row.append(el('span', key), shown);
        return row;
      }),
    );
  }

  function render() {
    const doc = state.doc;
    if (doc === undefined) return;
    renderHeader(doc);
    renderFigures(doc);
    renderTables(doc);
    const now = state.t[state.t.length - 1] ?? doc.now;
    for (const plot of PLOTS) draw(plot, now);
    document.body.dataset.samples = String(state.t.length);
  }

  async function refresh() {
    const since = state.t[state.t.length - 1];
    try {
      const answer = await fetch(
        since === undefined ? 'status.json' : `status.json?since=${since}`,
        {
          cache: 'no-store',
          credentials: 'same-origin',
        },
      );
      if (!answer.ok) throw new Error(`status.json answered ${answer.status}`);
      const doc = await answer.json();
      // A restarted sidecar starts its history afresh: so does the page.
      if (state.doc !== undefined && doc.startedAt !== state.doc.startedAt) {
        state.t = [];
        state.values = {};
        return refresh();
      }
      merge(doc.series);
      state.doc = doc;
      state.failed = false;
    } catch {
      state.failed = true;
    }
    render();
  }

  async function loop() {
    const started = Date.now();
    await refresh();
    setTimeout(loop, Math.max(200, 1000 - (Date.now() - started)));
  }

  buildPlots();
  window.addEventListener('resize', render);
  void loop();
})();

// The status page's script (inlined into /status, allowed by its hash): fetches status.json every
// second, keeps the samples of the last ten minutes, and draws them on canvases. No library: a
// small line plotter. Every text from the server is set with textContent, never parsed as HTML
// (channel names come from Odoo and, through it, from browsers).
(() => {
  const HISTORY = 600;
  const WINDOW_MS = 5 * 60 * 1000;
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

  const clientSeries = () =>
    Object.keys(state.values)
      .filter((name) => name.startsWith('ws:') || name.startsWith('lp:'))
      .sort()
      .map((name) => [
        name,
        `${name.startsWith('ws:') ? 'websockets' : 'long polls'} ${name.slice(3)}`,
      ]);

  const PLOTS = [
    { id: 'clients', title: 'Clients per database', unit: 'count', series: clientSeries },
    {
      id: 'deliveries',
      title: 'Deliveries',
      unit: 'rate',
      suffix: '/s',
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
      suffix: '/s',
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
      suffix: '/s',
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
      suffix: '/s',
      series: () => [
        ['bytesOut', 'sent'],
        ['bytesIn', 'received'],
      ],
    },
    {
      id: 'closes',
      title: 'Closes by the server',
      unit: 'rate',
      suffix: '/s',
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

  function niceCeiling(value) {
    if (!(value > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
    return 10 * power;
  }

  function buildPlots() {
    const grid = $('plots');
    for (const plot of PLOTS) {
      const card = el('section', undefined, 'card');
      const title = el('h2');
      title.append(el('span', plot.title), el('span', plot.suffix ?? '', 'unit'));
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
    const from = now - WINDOW_MS;
    const left = 44;
    const right = width - 6;
    const top = 6;
    const bottom = height - 16;
    const x = (t) => left + ((t - from) / WINDOW_MS) * (right - left);
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
    const ceiling = niceCeiling(max * 1.05);
    const y = (v) => bottom - (v / ceiling) * (bottom - top);

    ctx.font = '10px system-ui, sans-serif';
    ctx.lineWidth = 1;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (let i = 0; i <= 4; i++) {
      const v = (ceiling * i) / 4;
      ctx.strokeStyle = css('--grid');
      ctx.beginPath();
      ctx.moveTo(left, Math.round(y(v)) + 0.5);
      ctx.lineTo(right, Math.round(y(v)) + 0.5);
      ctx.stroke();
      ctx.fillStyle = css('--muted');
      ctx.fillText(format(v), left - 5, y(v));
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let minute = Math.ceil(from / 60000) * 60000; minute <= now; minute += 60000) {
      const time = new Date(minute);
      const label = `${String(time.getHours()).padStart(2, '0')}:${String(time.getMinutes()).padStart(2, '0')}`;
      ctx.fillText(label, x(minute), bottom + 3);
    }

    if (plot.down !== undefined) {
      // Seconds the LISTEN connection was down, shaded.
      const up = state.values[plot.down] ?? [];
      ctx.fillStyle = 'rgba(255, 100, 100, 0.18)';
      for (let i = first; i < state.t.length; i++) {
        if (up[i] === 0)
          ctx.fillRect(
            x(state.t[i] - 1000),
            top,
            x(state.t[i]) - x(state.t[i] - 1000),
            bottom - top,
          );
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
      const color = colors[index % colors.length];
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.6;
      ctx.lineJoin = 'round';
      ctx.beginPath();
      let open = false;
      let latest = null;
      for (let i = first; i < state.t.length; i++) {
        const v = points[i];
        if (v === null || v === undefined) {
          open = false;
          continue;
        }
        if (open) ctx.lineTo(x(state.t[i]), y(v));
        else ctx.moveTo(x(state.t[i]), y(v));
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
    $('process').textContent = doc.workers > 1 ? `${doc.workers} workers` : `pid ${doc.pid}`;
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
        const [text, className] = Array.isArray(cell) ? cell : [cell, undefined];
        const td = el('td', text, className);
        if (className === 'name') td.title = String(text);
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
      ['database', 'websockets', 'long polls', 'holes', 'reads in use / idle', 'waiting'],
      doc.databases.map((d) => [
        [d.db, 'name'],
        compact(d.websockets),
        compact(d.longPolls),
        compact(d.holes),
        `${d.readInUse} / ${d.readIdle}`,
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

// A stand-in for the Tauri IPC so the built dashboard can be measured in a plain WebKitGTK
// browser (bench/idle.py) without building the Rust app. It answers the commands of
// src/api.ts with shapes like the engine's (history/recent.rs names) and pushes one tick
// per second, like `[monitor] interval_secs = 1` in bench/ui.sh. Loaded before the app.
(() => {
  const params = new URLSearchParams(location.search);
  const interval = Number(params.get('interval') ?? 1000);
  const callbacks = new Map();
  let nextId = 1;
  let channel = null;
  let channelIndex = 0;
  const now = () => Math.floor(Date.now() / 1000);

  // An idle host like the bench machine (no mail server, no probes), 8 columns. What
  // moves each second moves on a real host too: CPU and disk busy, memory by a little;
  // the load average only every 5 s, as the kernel updates it.
  const NAMES = ['cpu_percent', 'load1', 'memory_percent', 'swap_percent', 'disk_io:sda', 'disk_io:sdb', 'fs_used_percent:/', 'ratio:cpu'];
  const noise = (k, t) => ((t * 7919 + k * 31) % 17) / 17;
  const wave = (t) => (Math.sin(t / 600) + 1) / 2;
  const host = (t) => ({
    cpu: 2 + 6 * wave(t) + 4 * noise(0, t),
    load: 0.2 + 0.6 * wave(t - (t % 5)) + 0.1 * noise(1, t - (t % 5)),
    memUsed: 3.1e9 + 2e6 * noise(2, t),
    disks: [3 * noise(4, t), noise(5, t) > 0.9 ? 1 : 0],
  });
  const MEM_TOTAL = 8e9;

  function batch(ts) {
    const cols = NAMES.map(() => []);
    for (const t of ts) {
      const h = host(t);
      [h.cpu, h.load, (h.memUsed / MEM_TOTAL) * 100, null, h.disks[0], h.disks[1], 50, h.cpu].forEach((v, k) => cols[k].push(v));
    }
    const series = {};
    NAMES.forEach((n, k) => (series[n] = cols[k]));
    return { ts, series };
  }
  const range = (from, to, step) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

  function state(t) {
    const h = host(t);
    const disk = Math.max(...h.disks);
    const items = [
      { id: 'cpu', used: h.cpu, limit: 100, ratio: h.cpu / 100, level: 'ok', forecast_s: null, detail: '2 cores' },
      { id: 'memory', used: h.memUsed, limit: MEM_TOTAL, ratio: h.memUsed / MEM_TOTAL, level: 'ok', forecast_s: null, detail: '' },
      { id: 'swap', used: 0, limit: 0, ratio: null, level: 'ok', forecast_s: null, detail: 'no swap' },
      { id: 'load', used: h.load, limit: 2, ratio: h.load / 2, level: 'ok', forecast_s: null, detail: '' },
      { id: 'disk_io', used: disk, limit: 100, ratio: disk / 100, level: 'ok', forecast_s: null, detail: 'sda' },
    ];
    return {
      ts: t,
      status: 'ok',
      summary: 'ok: every limit has headroom',
      assessment: { ts: t, status: 'ok', items },
      host: {
        cpu_percent: h.cpu,
        cores: 2,
        load: [h.load, 0.4, 0.3],
        memory: { total_bytes: MEM_TOTAL, used_bytes: h.memUsed, swap_total_bytes: 0, swap_used_bytes: 0 },
        filesystems: [{ mount_point: '/', device: '/dev/sda1', fs_type: 'ext4', total_bytes: 1e11, free_bytes: 5e10, total_inodes: 1e6, free_inodes: 5e5 }],
        disks: [{ device: 'sda', util_percent: h.disks[0] }, { device: 'sdb', util_percent: h.disks[1] }],
      },
      problems: [],
      config_path: '/tmp/config.toml',
      config_error: null,
      tray_problem: null,
      snoozed_until: null,
      interval_secs: interval / 1000,
      probing: false,
      mta: null,
      history: { enabled: true, path: '/tmp/history.sqlite3', problem: null, recovered_from: null },
    };
  }

  // Per tick, in milliseconds: `script` until the microtasks after it ran (the store and
  // Svelte's flush, which is queued first), `work` until the next task (plus any layout
  // and paint WebKit slips in before it).
  const tickWork = [];
  const tickScript = [];
  window.__benchTickWork = tickWork;
  window.__benchTickScript = tickScript;

  function send(message) {
    const cb = callbacks.get(channel);
    if (!cb) return;
    const t0 = performance.now();
    cb({ index: channelIndex++, message });
    queueMicrotask(() => queueMicrotask(() => tickScript.push(performance.now() - t0)));
    setTimeout(() => tickWork.push(performance.now() - t0), 0);
  }

  const commands = {
    get_state: () => {
      const t = now();
      return { state: state(t), history: batch(range(t - 3599, t, 1)), alerts: [], probes: [] };
    },
    subscribe: ({ events }) => {
      channel = events.id;
      setInterval(() => {
        const t = now();
        send({ kind: 'tick', state: state(t), samples: batch([t]) });
      }, interval);
      return null;
    },
    // 24 h come as 1-minute roll-ups (1441 points), shorter ranges raw (one per second).
    get_history: ({ rangeS }) => {
      const t = now();
      return rangeS > 3600 ? batch(range(t - rangeS, t, 60)) : batch(range(t - rangeS + 1, t, 1));
    },
    get_destinations: () => null,
    get_settings: () => ({
      interval_secs: interval / 1000, warn_ratio: 0.8, crit_ratio: 0.95, forecast_horizon_mins: 30,
      notifications_enabled: true, min_repeat_mins: 10, probes: [],
    }),
    probe_now: () => 'no_targets',
    snooze: () => null,
    export_csv: () => '/tmp/headroom.csv',
  };

  window.__TAURI_INTERNALS__ = {
    transformCallback(cb) {
      const id = nextId++;
      callbacks.set(id, cb);
      return id;
    },
    unregisterCallback(id) {
      callbacks.delete(id);
    },
    async invoke(cmd, args) {
      const f = commands[cmd];
      if (!f) throw new Error(`mock-tauri: no command ${cmd}`);
      return f(args ?? {});
    },
  };
})();

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

  // The series the bench host has (no mail server, no probes): 8 columns.
  const NAMES = ['cpu_percent', 'load1', 'memory_percent', 'swap_percent', 'disk_io:sda', 'disk_io:sdb', 'fs_used_percent:/', 'ratio:cpu'];
  const value = (k, t) => ((Math.sin(t / 600) + 1) * 20 + k * 5) + ((t * 7919 + k * 31) % 17) / 10;

  function batch(ts) {
    const series = {};
    NAMES.forEach((n, k) => (series[n] = ts.map((t) => (n === 'swap_percent' ? null : value(k, t)))));
    return { ts, series };
  }
  const range = (from, to, step) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

  function state(t) {
    const cpu = value(0, t);
    const items = [
      { id: 'cpu', used: cpu, limit: 100, ratio: cpu / 100, level: 'ok', forecast_s: null, detail: '2 cores' },
      { id: 'memory', used: 3.1e9 + (t % 7) * 1e6, limit: 8e9, ratio: 0.39, level: 'ok', forecast_s: null, detail: '' },
      { id: 'swap', used: 0, limit: 0, ratio: null, level: 'ok', forecast_s: null, detail: 'no swap' },
      { id: 'load', used: value(1, t) / 40, limit: 2, ratio: value(1, t) / 80, level: 'ok', forecast_s: null, detail: '' },
      { id: 'disk_io', used: value(4, t), limit: 100, ratio: value(4, t) / 100, level: 'ok', forecast_s: null, detail: 'sda' },
    ];
    return {
      ts: t,
      status: 'ok',
      summary: 'ok: every limit has headroom',
      assessment: { ts: t, status: 'ok', items },
      host: {
        cpu_percent: cpu,
        cores: 2,
        load: [value(1, t) / 40, 0.4, 0.3],
        memory: { total_bytes: 8e9, used_bytes: 3.1e9 + (t % 7) * 1e6, swap_total_bytes: 0, swap_used_bytes: 0 },
        filesystems: [{ mount_point: '/', device: '/dev/sda1', fs_type: 'ext4', total_bytes: 1e11, free_bytes: 5e10, total_inodes: 1e6, free_inodes: 5e5 }],
        disks: [{ device: 'sda', util_percent: value(4, t) }, { device: 'sdb', util_percent: value(5, t) }],
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

  // Milliseconds from a tick's arrival until the next task runs: the script work the
  // tick caused (Svelte flushes in a microtask), and any paint WebKit slips in between.
  const tickWork = [];
  window.__benchTickWork = tickWork;

  function send(message) {
    const cb = callbacks.get(channel);
    if (!cb) return;
    const t0 = performance.now();
    cb({ index: channelIndex++, message });
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

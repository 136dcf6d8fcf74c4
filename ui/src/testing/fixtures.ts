// Realistic shapes of what the engine sends, for tests (never imported by the app).
import type { Initial, Item, SampleBatch, StateView, UiEvent } from '../types';

export const T0 = 1800000000;

function items(cpu: number): Item[] {
  return [
    { id: 'cpu', used: cpu, limit: 100, ratio: cpu / 100, level: cpu >= 80 ? 'warning' : 'ok', forecast_s: null, detail: '2 cores' },
    { id: 'memory', used: 3 * 1024 ** 3, limit: 8 * 1024 ** 3, ratio: 0.375, level: 'ok', forecast_s: null, detail: '' },
    { id: 'load', used: 0.5, limit: 2, ratio: 0.25, level: 'ok', forecast_s: null, detail: '' },
    { id: 'smtpd_processes', used: 3, limit: 100, ratio: 0.03, level: 'ok', forecast_s: null, detail: 'smtp' },
    { id: 'queue_disk', used: 1e9, limit: 9e9, ratio: 0.11, level: 'ok', forecast_s: null, detail: '' },
  ];
}

/** The state at `ts` with the CPU at `cpu` %: the only figures that move between ticks. */
export function stateAt(ts: number, cpu: number): StateView {
  return {
    ts,
    status: cpu >= 80 ? 'warning' : 'ok',
    summary: cpu >= 80 ? `warning: CPU ${cpu}%/100% (${cpu}%)` : 'ok: everything has headroom',
    assessment: { ts, status: cpu >= 80 ? 'warning' : 'ok', items: items(cpu) },
    host: {
      cpu_percent: cpu,
      cores: 2,
      load: [0.5, 0.4, 0.3],
      memory: { total_bytes: 8 * 1024 ** 3, used_bytes: 3 * 1024 ** 3, swap_total_bytes: 0, swap_used_bytes: 0 },
      filesystems: [
        { mount_point: '/', device: '/dev/sda1', fs_type: 'ext4', total_bytes: 1e11, free_bytes: 5e10, total_inodes: 1000, free_inodes: 500 },
        { mount_point: '/var', device: '/dev/sda2', fs_type: 'ext4', total_bytes: 1e10, free_bytes: 9e9, total_inodes: 1000, free_inodes: 900 },
      ],
      disks: [{ device: 'sda', util_percent: 1.5 }],
    },
    problems: [],
    config_path: '/etc/headroom.toml',
    config_error: null,
    tray_problem: null,
    servers: [],
    selected: 'local',
    snoozed_until: null,
    interval_secs: 1,
    probing: false,
    mta: {
      kind: 'postfix',
      version: '3.7.11',
      state: 'running',
      limits: { default_process_limit: 100, queue_space_threshold: 15_360_000 },
      queue_space: { bytes: 15_360_000, parameters: ['queue_minfree', 'message_size_limit'], rule: 'max(queue_minfree, 1.5 × message_size_limit)' },
      active_limit: { value: 20000, parameter: 'qmgr_message_active_limit' },
      queue_lifetime: { value: 432000, parameter: 'maximal_queue_lifetime' },
      spool_inodes_reserve: null,
      config_source: 'postconf -c /etc/postfix',
      services: [
        {
          name: 'smtp', command: 'smtpd', address: null, port: 25,
          process_limit: { value: 100, parameter: 'maxproc in master.cf' },
          per_client_limit: { value: 50, parameter: 'smtpd_client_connection_count_limit' },
          processes: 3, idle_processes: 1, stressed: 0, listening: true, backlog: 0, backlog_limit: 100, connections: 2,
          top_peer: null, top_peer_connections: 0, top_limited_peer: null, top_limited_peer_connections: 0,
        },
        {
          name: 'smtp', command: 'smtp', address: null, port: null,
          process_limit: { value: 100, parameter: 'default_process_limit' },
          per_client_limit: null,
          processes: 0, idle_processes: 0, stressed: 0, listening: false, backlog: null, backlog_limit: null, connections: 0,
          top_peer: null, top_peer_connections: 0, top_limited_peer: null, top_limited_peer_connections: 0,
        },
      ],
      queue: { maildrop: 0, incoming: 0, active: 1, deferred: 4, hold: 0, oldest_age_s: 600, method: 'directory', counted_age_s: 0 },
      queue_fs: { path: '/var/spool/postfix', total_bytes: 1e10, free_bytes: 9e9, total_inodes: 1000, free_inodes: 900 },
      details: null,
      notes: [],
      refuse_load: null,
      queue_problem: null,
    },
    history: { enabled: true, path: '/tmp/h.sqlite3', problem: null, recovered_from: null },
  };
}

/** The chart metrics of one tick, named as the engine names them (history/recent.rs). */
export function samplesAt(ts: number[], cpu: (i: number) => number): SampleBatch {
  const col = (f: (i: number) => number | null) => ts.map((_, i) => f(i));
  return {
    ts,
    series: {
      cpu_percent: col(cpu),
      load1: col(() => 0.5),
      memory_percent: col(() => 37.5),
      swap_percent: col(() => null),
      'disk_io:sda': col(() => 1.5),
      'fs_used_percent:/': col(() => 50),
      'queue:active': col(() => 1),
      'queue:deferred': col(() => 4),
      'smtpd_processes:smtp': col(() => 3),
      'smtpd_connections:smtp': col(() => 2),
      'smtpd_limit:smtp': col(() => 100),
      queue_free_bytes: col(() => 9e9),
      queue_space_threshold: col(() => 15_360_000),
      'probe_ms:local:connect': col(() => 0.2),
      'probe_ms:local:banner': col(() => 1.0),
      'ratio:cpu': col((i) => cpu(i)),
    },
  };
}

/** What get_state answers at T0: the state plus 10 minutes of 1 s history. */
export function initialAt(cpu = 85): Initial {
  const ts = Array.from({ length: 600 }, (_, i) => T0 - 599 + i);
  return {
    state: stateAt(T0, cpu),
    history: samplesAt(ts, (i) => (i * 7) % 100),
    alerts: [],
    probes: [],
  };
}

/** The last element of a column. */
export function last<T>(xs: readonly T[]): T | undefined {
  return xs[xs.length - 1];
}

/** Tick `n` (1, 2, …) after T0: the CPU figure and the clock move, nothing else. */
export function tick(n: number, cpu = 10 + (n % 50)): Extract<UiEvent, { kind: 'tick' }> {
  return { kind: 'tick', state: stateAt(T0 + n, cpu), samples: samplesAt([T0 + n], () => cpu) };
}

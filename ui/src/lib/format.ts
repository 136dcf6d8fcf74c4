import type { Item, Level } from '../types';

export const LEVEL_WORDS: Record<Level, string> = {
  ok: 'ok',
  watch: 'watch',
  unknown: 'unknown',
  warning: 'warning',
  critical: 'critical',
};

const ITEM_UNITS: Record<string, 'count' | 'percent' | 'bytes' | 'seconds' | 'load' | 'millis'> = {
  smtpd_processes: 'count',
  accept_backlog: 'count',
  client_connections: 'count',
  queue_disk: 'bytes',
  queue_inodes: 'count',
  active_queue: 'count',
  deferred_queue: 'count',
  oldest_message: 'seconds',
  cpu: 'percent',
  memory: 'bytes',
  swap: 'bytes',
  load: 'load',
  disk_io: 'percent',
  probe_latency: 'millis',
  probe_failures: 'count',
  remote_throttling: 'count',
};

export const ITEM_LABELS: Record<string, string> = {
  smtpd_processes: 'smtpd processes',
  accept_backlog: 'Clients waiting for a banner',
  client_connections: 'Connections from one client',
  queue_disk: 'Queue free space',
  queue_inodes: 'Queue inodes',
  active_queue: 'Active queue',
  deferred_queue: 'Deferred queue',
  oldest_message: 'Oldest queued message',
  cpu: 'CPU',
  memory: 'Memory',
  swap: 'Swap',
  load: 'Load average',
  disk_io: 'Disk I/O',
  probe_latency: 'Probe latency',
  probe_failures: 'Consecutive probe failures',
  remote_throttling: 'Remote throttling',
};

export function formatBytes(v: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(x)} B` : `${x.toFixed(1)} ${units[i]}`;
}

export function formatDuration(s: number): string {
  if (s < 90) return `${Math.max(0, Math.round(s))} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

export function formatValue(id: string, v: number | null): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  switch (ITEM_UNITS[id] ?? 'count') {
    case 'percent':
      return `${v.toFixed(v < 10 ? 1 : 0)}%`;
    case 'bytes':
      return formatBytes(v);
    case 'seconds':
      return formatDuration(v);
    case 'load':
      return v.toFixed(2);
    case 'millis':
      return `${Math.round(v)} ms`;
    default:
      return `${Math.round(v)}`;
  }
}

/** "12.3 GiB / 23.5 GiB" or "88 / 100". */
export function usedOfLimit(item: Item): string {
  return `${formatValue(item.id, item.used)} / ${formatValue(item.id, item.limit)}`;
}

export function forecastText(item: Item): string | null {
  if (item.forecast_s === null || item.forecast_s === undefined) return null;
  return item.forecast_s <= 0 ? 'at the limit now' : `full in ~${formatDuration(item.forecast_s)}`;
}

/**
 * A headroom bar's width in whole percent (0–100), like the figure beside it: a change
 * too small to see (memory moves a few bytes every tick) changes nothing to repaint.
 */
export function barPercent(ratio: number | null): number {
  return Math.min(100, Math.max(0, Math.round((ratio ?? 0) * 100)));
}

export function clockTime(ts: number): string {
  return new Date(ts * 1000).toLocaleTimeString([], { hour12: false });
}

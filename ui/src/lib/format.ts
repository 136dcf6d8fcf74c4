import type { Item, Level } from '../types';
import { ITEMS, type ItemRow } from '../bindings/items';
import type { Unit } from '../bindings/Unit';

export const LEVEL_WORDS: Record<Level, string> = {
  ok: 'ok',
  watch: 'watch',
  unknown: 'unknown',
  warning: 'warning',
  critical: 'critical',
};

/** An item's title for headings, from the engine's item table (generated bindings). */
export function itemTitle(id: string): string {
  return (ITEMS as Record<string, ItemRow | undefined>)[id]?.title ?? id;
}

function unitOf(id: string): Unit {
  return (ITEMS as Record<string, ItemRow | undefined>)[id]?.unit ?? 'count';
}

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
  switch (unitOf(id)) {
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

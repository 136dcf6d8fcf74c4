// What one tick costs the window: which charts redraw, which are rebuilt, and how much
// of the DOM changes. The counts are the point of these tests (issue 11: the window idles).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import type { SampleBatch, UiEvent } from './types';
import { T0, initialAt, last, samplesAt, stateAt, tick } from './testing/fixtures';

let push: ((e: UiEvent) => void) | null = null;
let history: SampleBatch = samplesAt([T0 - 120, T0 - 60, T0], () => 5);

vi.mock('./api', () => ({
  getState: vi.fn(async () => initialAt()),
  subscribe: vi.fn(async (f: (e: UiEvent) => void) => {
    push = f;
  }),
  snooze: vi.fn(async () => null),
  probeNow: vi.fn(async () => 'started'),
  explainReply: vi.fn(async () => ({ code: 0, enhanced: null, class: 'ok', meaning: '', causes: [], fixes: [] })),
  getDestinations: vi.fn(async () => null),
  getHistory: vi.fn(async () => history),
  exportCsv: vi.fn(async () => '/tmp/headroom.csv'),
  selectServer: vi.fn(async () => undefined),
  testServer: vi.fn(async () => ({ ok: true, message: 'connected', fingerprint_to_accept: null, hostname: null, version: null })),
  setServerToken: vi.fn(async () => undefined),
  getSettings: vi.fn(async () => ({
    interval_secs: 1, warn_ratio: 0.8, crit_ratio: 0.95, forecast_horizon_mins: 30,
    notifications_enabled: true, min_repeat_mins: 10, probes: [], servers: [], local_enabled: true,
  })),
  saveSettings: vi.fn(),
  getAutostart: vi.fn(async () => false),
  setAutostart: vi.fn(async (on: boolean) => on),
  quitApp: vi.fn(),
}));

/** Every uPlot the page made, with what it was given. */
interface FakePlot {
  title: string;
  series: string[];
  data: (number | null)[][];
  setData: number;
  destroyed: boolean;
}
const plots: FakePlot[] = [];
vi.mock('uplot', () => ({
  default: class {
    p: FakePlot;
    width: number;
    constructor(opts: { width: number; series: { label?: string }[] }, data: (number | null)[][], el: HTMLElement) {
      this.width = opts.width;
      this.p = {
        title: el.closest('figure')?.querySelector('figcaption')?.textContent ?? '',
        series: opts.series.slice(1).map((s) => s.label ?? ''),
        data,
        setData: 0,
        destroyed: false,
      };
      plots.push(this.p);
    }
    setData(data: (number | null)[][]) {
      this.p.data = data;
      this.p.setData++;
    }
    setSize() {}
    destroy() {
      this.p.destroyed = true;
    }
  },
}));

globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
} as unknown as typeof ResizeObserver;

let visibility: DocumentVisibilityState = 'visible';
Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => visibility });
function setVisibility(v: DocumentVisibilityState) {
  visibility = v;
  document.dispatchEvent(new Event('visibilitychange'));
}

const live = () => plots.filter((p) => !p.destroyed);
const total = (f: (p: FakePlot) => number) => plots.reduce((n, p) => n + f(p), 0);

let target: HTMLElement;
let app: ReturnType<typeof mount>;

beforeEach(async () => {
  plots.length = 0;
  visibility = 'visible';
  const { default: App } = await import('./App.svelte');
  target = document.createElement('div');
  document.body.appendChild(target);
  app = mount(App, { target });
  await vi.waitFor(() => expect(target.querySelectorAll('[data-testid=headroom-item]').length).toBe(5));
  flushSync();
  // The disk chart, mounted before any sample, was rebuilt once its series arrived:
  // a true change of series. Count from the loaded page on.
  expect(plots.filter((p) => p.destroyed).map((p) => p.title)).toEqual(['Disk busy (%)']);
  plots.splice(0, plots.length, ...live());
  for (const p of plots) p.setData = 0;
});

afterEach(() => {
  unmount(app);
  target.remove();
});

function ticks(from: number, n: number) {
  for (let i = from; i < from + n; i++) {
    push!(tick(i));
    flushSync();
  }
}

describe('one tick in the window', () => {
  it('builds each chart once and redraws it with setData, keeping gaps as nulls', () => {
    const titles = live().map((p) => p.title);
    expect(titles).toEqual([
      'CPU busy (%)', 'Load average (1 min)', 'Memory and swap used (%)', 'Disk busy (%)', 'Queue (messages)',
      'smtpd processes and connections vs limit', 'Queue free space vs threshold', 'Probe latency per phase (ms)',
    ]);
    const built = plots.length;
    ticks(1, 5);
    expect(plots.length).toBe(built);
    expect(plots.filter((p) => p.destroyed)).toEqual([]);
    // At most one redraw per chart per tick: 10 minutes over the 400 px of a chart in
    // jsdom are 1.5 s a pixel, so every other tick moves the lines by a pixel.
    expect(live().map((p) => p.setData)).toEqual(new Array(8).fill(2));
    const cpu = live()[0];
    expect(last(cpu.data[0])).toBe(T0 + 4);
    expect(last(cpu.data[1])).toBe(14);
    // Swap is not measured on this host: gaps, not zeros.
    const memory = live()[2];
    expect(memory.series).toEqual(['memory', 'swap']);
    expect(memory.data[2].every((v) => v === null)).toBe(true);
  });

  it('rebuilds only the chart whose set of series changed', () => {
    ticks(1, 2);
    const before = plots.length;
    const state = stateAt(T0 + 3, 20);
    state.host!.disks.push({ device: 'sdb', util_percent: 3 });
    push!({ kind: 'tick', state, samples: { ...samplesAt([T0 + 3], () => 20), series: { ...samplesAt([T0 + 3], () => 20).series, 'disk_io:sdb': [3] } } });
    flushSync();
    expect(plots.length).toBe(before + 1);
    expect(plots.filter((p) => p.destroyed).map((p) => p.title)).toEqual(['Disk busy (%)']);
    expect(live().find((p) => p.title === 'Disk busy (%)')?.series).toEqual(['sda', 'sdb']);
  });

  it('does not redraw a history range on ticks, and redraws it once when loaded', async () => {
    history = samplesAt([T0 - 120, T0 - 60, T0], () => 5);
    const redraws = total((p) => p.setData);
    (target.querySelector('[data-testid=range-24h]') as HTMLButtonElement).click();
    await vi.waitFor(() => expect(target.querySelector('[data-testid=range-status]')?.textContent).toBe('24 h from history: 3 points'));
    flushSync();
    // The history has every live series: the same charts, each redrawn once.
    expect(plots.filter((p) => p.destroyed)).toEqual([]);
    expect(total((p) => p.setData) - redraws).toBe(8);
    expect(live()[0].data[0]).toEqual([T0 - 120, T0 - 60, T0]);
    const loaded = total((p) => p.setData);
    ticks(1, 10);
    expect(total((p) => p.setData)).toBe(loaded);
    // Back to live: one redraw each with the samples that came meanwhile.
    (target.querySelector('[data-testid=range-live]') as HTMLButtonElement).click();
    flushSync();
    expect(total((p) => p.setData)).toBe(loaded + 8);
    expect(last(live()[0].data[0])).toBe(T0 + 10);
  });

  it('does not draw while the window is hidden, and catches up once when shown', () => {
    ticks(1, 1);
    const shown = total((p) => p.setData);
    setVisibility('hidden');
    flushSync();
    ticks(2, 10);
    expect(total((p) => p.setData)).toBe(shown);
    setVisibility('visible');
    flushSync();
    expect(total((p) => p.setData)).toBe(shown + 8);
    expect(last(live()[0].data[0])).toBe(T0 + 11);
    // Then again once the new samples move the lines by a pixel (1.5 s here).
    ticks(12, 1);
    expect(total((p) => p.setData)).toBe(shown + 8);
    ticks(13, 1);
    expect(total((p) => p.setData)).toBe(shown + 16);
  });

  it('redraws a live hour once per pixel of time, and draws a sample left waiting when no tick follows', () => {
    vi.useFakeTimers();
    try {
      // An hour over 400 px: 9 s a pixel.
      const hour = Array.from({ length: 3600 }, (_, i) => T0 + 1 + i);
      for (let i = 0; i < hour.length; i += 600) {
        push!({ kind: 'tick', state: stateAt(hour[i], 10), samples: samplesAt(hour.slice(i, i + 600), () => 10) });
      }
      flushSync();
      const T1 = hour[hour.length - 1];
      const drawn = total((p) => p.setData);
      for (let n = 1; n <= 18; n++) {
        push!({ kind: 'tick', state: stateAt(T1 + n, 10), samples: samplesAt([T1 + n], () => 10) });
        flushSync();
      }
      // 18 ticks, two pixels: two redraws per chart, not 18.
      expect(total((p) => p.setData) - drawn).toBe(2 * 8);
      push!({ kind: 'tick', state: stateAt(T1 + 19, 10), samples: samplesAt([T1 + 19], () => 10) });
      flushSync();
      expect(total((p) => p.setData) - drawn).toBe(2 * 8);
      // The monitor stops: the last sample is drawn when its pixel is due anyway.
      vi.advanceTimersByTime(9000);
      expect(total((p) => p.setData) - drawn).toBe(3 * 8);
      expect(last(live()[0].data[0])).toBe(T1 + 19);
    } finally {
      vi.useRealTimers();
    }
  });

  it('changes only the figures that moved', async () => {
    const changed = new Map<string, number>();
    let records = 0;
    const observer = new MutationObserver((list) => {
      for (const m of list) {
        records++;
        const el = m.target instanceof Element ? m.target : m.target.parentElement;
        const section = el?.closest('section')?.getAttribute('aria-labelledby');
        const where = section ?? (el?.closest('header') ? 'header' : 'main');
        changed.set(where, (changed.get(where) ?? 0) + 1);
      }
    });
    observer.observe(target, { subtree: true, childList: true, characterData: true, attributes: true });
    const N = 20;
    ticks(1, N);
    await Promise.resolve();
    observer.disconnect();
    const perTick = records / N;
    console.log(`DOM mutation records per tick: ${perTick.toFixed(1)} (${JSON.stringify(Object.fromEntries(changed))})`);
    // CPU figure, clock, the CPU item's text, bar and meter value, the header: no more.
    expect(perTick).toBeLessThanOrEqual(8);
    for (const still of ['h-probes', 'h-mta', 'h-dest', 'h-alerts', 'h-settings']) expect(changed.get(still) ?? 0).toBe(0);
  });
});

import { describe, expect, it, vi } from 'vitest';
import { mount, flushSync, unmount } from 'svelte';
import type { Initial, UiEvent } from './types';

let push: ((e: UiEvent) => void) | null = null;
const initial: Initial = {
  state: {
    ts: 1800000000,
    status: 'warning',
    summary: 'warning: CPU 85%/100% (85%)',
    assessment: {
      ts: 1800000000,
      status: 'warning',
      items: [{ id: 'cpu', used: 85, limit: 100, ratio: 0.85, level: 'warning', forecast_s: null, detail: '2 cores' }],
    },
    host: { cpu_percent: 85, cores: 2, load: [1, 1, 1], memory: null, filesystems: [], disks: [] },
    problems: [],
    config_path: null,
    config_error: null,
    tray_problem: null,
    servers: [],
    selected: 'local',
    snoozed_until: null,
    interval_secs: 1,
    probing: false,
    mta: null,
    history: { enabled: true, path: '/tmp/h.sqlite3', problem: null, recovered_from: null },
  },
  history: { ts: [1799999999, 1800000000], series: { cpu_percent: [80, 85] } },
  alerts: [],
  probes: [],
};

vi.mock('./api', () => ({
  getState: vi.fn(async () => initial),
  subscribe: vi.fn(async (f: (e: UiEvent) => void) => {
    push = f;
  }),
  snooze: vi.fn(async () => null),
  probeNow: vi.fn(async () => 'started'),
  explainReply: vi.fn(async () => ({ code: 421, enhanced: '4.7.0', class: 'connection_limit', meaning: 'too many connections', causes: [], fixes: ['raise it'] })),
  getDestinations: vi.fn(async () => null),
  getHistory: vi.fn(async () => ({ ts: [1, 2, 3], series: { cpu_percent: [1, null, 3] } })),
  exportCsv: vi.fn(async () => '/tmp/headroom.csv'),
  selectServer: vi.fn(async () => undefined),
  testServer: vi.fn(async () => ({ ok: true, message: 'connected', fingerprint_to_accept: null, hostname: null, version: null })),
  setServerToken: vi.fn(async () => undefined),
  getSettings: vi.fn(async () => ({
    interval_secs: 5, warn_ratio: 0.8, crit_ratio: 0.95, forecast_horizon_mins: 30,
    notifications_enabled: true, min_repeat_mins: 10, probes: [], servers: [], local_enabled: true,
  })),
  saveSettings: vi.fn(async () => {
    throw { field: 'thresholds.warn_ratio', message: 'warn_ratio = 0.99 is above crit_ratio = 0.95' };
  }),
  getAutostart: vi.fn(async () => false),
  setAutostart: vi.fn(async (on: boolean) => on),
  quitApp: vi.fn(),
}));

// uPlot measures text with a canvas, which jsdom does not have.
vi.mock('uplot', () => ({
  default: class {
    setData() {}
    setSize() {}
    destroy() {}
  },
}));

// jsdom has no ResizeObserver (Svelte's bind:clientWidth uses it).
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
} as unknown as typeof ResizeObserver;

describe('App', () => {
  it('shows the level, the CPU figure and live updates', async () => {
    const { default: App } = await import('./App.svelte');
    const target = document.createElement('div');
    document.body.appendChild(target);
    const app = mount(App, { target });
    await vi.waitFor(() => expect(target.querySelector('[data-testid=risk-status]')?.textContent).toBe('warning'));
    expect(target.querySelector('[data-testid=cpu-value]')?.textContent).toBe('85.0%');
    expect(target.querySelectorAll('[data-testid=headroom-item]').length).toBe(1);
    push!({
      kind: 'tick',
      state: { ...initial.state, ts: 1800000001, status: 'ok', host: { ...initial.state.host!, cpu_percent: 12.5 } },
      samples: { ts: [1800000001], series: { cpu_percent: [12.5] } },
    });
    push!({
      kind: 'alert',
      entry: { ts: 1800000001, kind: 'transition', item: 'cpu', level: 'ok', previous: 'warning', message: 'CPU back to ok' },
    });
    flushSync();
    expect(target.querySelector('[data-testid=risk-status]')?.textContent).toBe('ok');
    expect(target.querySelector('[data-testid=cpu-value]')?.textContent).toBe('12.5%');
    expect(target.querySelectorAll('[data-testid=alert-row]').length).toBe(1);
    (target.querySelector('[data-testid=probe-now]') as HTMLButtonElement).click();
    await vi.waitFor(() => expect(target.querySelector('[data-testid=probe-now]')?.textContent?.trim()).toBe('Probing…'));
    push!({
      kind: 'probe',
      result: {
        target: '127.0.0.1:25', outcome: 'tempfail', phase: 'banner',
        reply: { code: 421, enhanced: '4.7.0', text: 'too many connections' },
        class: 'connection_limit', timings_ms: { connect: 0.2, banner: 1.0 }, total_ms: 1.2,
        name: 'local', ts: 1800000002, detail: null,
      },
    });
    flushSync();
    const rows = target.querySelectorAll('[data-testid=probe-row]');
    expect(rows.length).toBe(1);
    expect(rows[0].textContent).toContain('421 4.7.0');
    expect(rows[0].textContent).toContain('connection_limit');
    expect(target.querySelector('[data-testid=probe-now]')?.textContent?.trim()).toBe('Probe now');
    // A real button: focusable, Enter and Space work, and it says whether it is open.
    expect(rows[0].tagName).toBe('BUTTON');
    expect(rows[0].getAttribute('aria-expanded')).toBe('false');
    (rows[0] as HTMLElement).click();
    await vi.waitFor(() => expect(target.querySelector('[data-testid=probe-explanation]')?.textContent).toContain('raise it'));
    expect(rows[0].getAttribute('aria-expanded')).toBe('true');
    // A newer result goes on top; the open row stays open and keeps its element.
    push!({
      kind: 'probe',
      result: {
        target: '127.0.0.1:25', outcome: 'ok', phase: 'quit', reply: { code: 221, enhanced: '2.0.0', text: 'Bye' },
        class: 'ok', timings_ms: { connect: 0.2 }, total_ms: 0.9, name: 'local', ts: 1800000003, detail: null,
      },
    });
    flushSync();
    const after = target.querySelectorAll('[data-testid=probe-row]');
    expect(after.length).toBe(2);
    expect(after[0].textContent).toContain('221 2.0.0');
    expect(after[1]).toBe(rows[0]);
    expect(target.querySelector('[data-testid=probe-explanation]')?.textContent).toContain('raise it');
    (rows[0] as HTMLElement).click();
    flushSync();
    expect(target.querySelector('[data-testid=probe-explanation]')).toBeNull();
    (target.querySelector('[data-testid=range-24h]') as HTMLButtonElement).click();
    await vi.waitFor(() => expect(target.querySelector('[data-testid=range-status]')?.textContent).toBe('24 h from history: 3 points'));
    (target.querySelector('[data-testid=settings-save]') as HTMLButtonElement).click();
    await vi.waitFor(() =>
      expect(target.querySelector('[data-testid=settings-error]')?.textContent).toBe(
        'thresholds.warn_ratio: warn_ratio = 0.99 is above crit_ratio = 0.95',
      ),
    );
    unmount(app);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushSync } from 'svelte';
import type { Initial, SampleBatch, UiEvent } from '../types';
import { DESTINATIONS_EVERY_MS, Dashboard, LIVE_STATUS, type Api } from './store.svelte';
import { T0, initialAt, last, samplesAt, stateAt, tick } from '../testing/fixtures';

/** A stand-in for src/api.ts that records the order of calls and lets the test push events. */
function fakeApi(over: Partial<Api> = {}) {
  const calls: string[] = [];
  let listener: ((e: UiEvent) => void) | null = null;
  const api: Api = {
    subscribe: vi.fn(async (f: (e: UiEvent) => void) => {
      calls.push('subscribe');
      listener = f;
    }),
    getState: vi.fn(async () => {
      calls.push('getState');
      return initialAt();
    }),
    snooze: vi.fn(async (minutes: number | null) => (minutes === null ? null : T0 + minutes * 60)),
    probeNow: vi.fn(async () => 'started' as const),
    getDestinations: vi.fn(async () => {
      calls.push('getDestinations');
      return null;
    }),
    getHistory: vi.fn(async () => samplesAt([T0 - 2, T0 - 1, T0], () => 1)),
    exportCsv: vi.fn(async () => '/tmp/headroom.csv'),
    selectServer: vi.fn(async () => undefined),
    ...over,
  };
  const push = (e: UiEvent) => {
    if (!listener) throw new Error('not subscribed');
    listener(e);
  };
  return { api, calls, push };
}

/** Lets the store's awaited calls settle. */
const settle = () => new Promise((r) => setTimeout(r, 0));

const stops: (() => void)[] = [];
afterEach(() => {
  while (stops.length) stops.pop()!();
  vi.useRealTimers();
});

async function started(over: Partial<Api> = {}) {
  const f = fakeApi(over);
  const dash = new Dashboard(f.api, { visible: () => true });
  stops.push(dash.start());
  await settle();
  return { ...f, dash };
}

describe('Dashboard', () => {
  it('choosing another server replaces the figures, logs and charts with its own', async () => {
    const remote: Initial = {
      state: {
        ...stateAt(T0 + 5, 10),
        selected: 'mx2',
        servers: [
          { id: 'local', name: 'this machine', transport: 'local', address: '', status: 'ok', summary: 'ok', reason: null, ts: T0 },
          { id: 'mx2', name: 'mx2', transport: 'https', address: 'https://mx2:9767', status: 'critical', summary: 'critical: smtpd', reason: null, ts: T0 },
        ],
      },
      history: { ts: [], series: {} },
      alerts: [],
      probes: [],
    };
    const getState = vi.fn(async () => initialAt());
    const { dash, api } = await started({ getState });
    expect(dash.live.ts.length).toBe(600);
    getState.mockImplementationOnce(async () => remote);
    await dash.selectServer('mx2');
    expect(api.selectServer).toHaveBeenCalledWith('mx2');
    expect(dash.selected).toBe('mx2');
    expect(dash.servers.map((s) => s.id)).toEqual(['local', 'mx2']);
    expect(dash.host?.cpu_percent).toBe(10);
    // This machine's samples are gone: the charts start from the agent's ticks.
    expect(dash.live.ts.length).toBe(0);
    await dash.selectServer('mx2');
    expect(api.selectServer).toHaveBeenCalledTimes(1);
  });

  it('subscribes before it reads the state, then loads history, logs and destinations', async () => {
    const { dash, calls } = await started();
    expect(calls).toEqual(['subscribe', 'getState', 'getDestinations']);
    expect(dash.status).toBe('warning');
    expect(dash.host?.cpu_percent).toBe(85);
    expect(dash.items.map((i) => i.id)).toEqual(['cpu', 'memory', 'load', 'smtpd_processes', 'queue_disk']);
    expect(dash.live.ts.length).toBe(600);
    expect(dash.live.latest('cpu_percent')).toBe((599 * 7) % 100);
    expect(dash.loadError).toBeNull();
  });

  it('keeps ticks that arrived between subscribe and get_state: the newer state, every sample once', async () => {
    let f: ReturnType<typeof fakeApi>;
    const initial: Initial = initialAt();
    f = fakeApi({
      getState: vi.fn(async () => {
        // The engine ticks while get_state is on its way: T0 is in the history too.
        f.push({ ...tick(0, 85), samples: samplesAt([T0], () => 85) });
        f.push(tick(1, 42));
        return initial;
      }),
    });
    const dash = new Dashboard(f.api, { visible: () => true });
    stops.push(dash.start());
    await settle();
    expect(dash.ts).toBe(T0 + 1);
    expect(dash.host?.cpu_percent).toBe(42);
    // The tick's sample and the history are one timeline, in order, without duplicates.
    expect(last(dash.live.ts)).toBe(T0 + 1);
    expect(dash.live.latest('cpu_percent')).toBe(42);
    expect(dash.live.ts.length).toBe(601);
  });

  it('says why when the engine cannot be reached', async () => {
    const { dash } = await started({ subscribe: vi.fn(async () => Promise.reject(new Error('no IPC'))) });
    expect(dash.loadError).toBe('Error: no IPC');
  });

  it('wakes only what a tick changed', async () => {
    const { dash, push } = await started();
    const runs: Record<string, number> = {};
    const watched = ['ts', 'status', 'summary', 'items', 'host', 'mta', 'problems', 'history', 'configPath', 'configError',
      'alerts', 'probes', 'destinations', 'probing', 'snoozedUntil', 'shown'] as const;
    stops.push(
      $effect.root(() => {
        for (const field of watched) {
          runs[field] = 0;
          $effect(() => {
            void dash[field];
            runs[field]++;
          });
        }
        runs.keys = 0;
        $effect(() => {
          void dash.live.keys;
          runs.keys++;
        });
        runs.timeline = 0;
        $effect(() => {
          void dash.live.ts;
          runs.timeline++;
        });
      }),
    );
    flushSync();
    const first = { ...runs };
    // The CPU and the clock move; everything else is the same, in new objects.
    for (let n = 1; n <= 10; n++) {
      push(tick(n));
      flushSync();
    }
    const delta = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v - first[k]]));
    expect(delta).toEqual({
      ts: 10,
      host: 10,
      items: 10,
      timeline: 10,
      // warning at the initial 85 % CPU, ok from the first tick on.
      status: 1,
      summary: 1,
      mta: 0,
      problems: 0,
      history: 0,
      configPath: 0,
      configError: 0,
      alerts: 0,
      probes: 0,
      destinations: 0,
      probing: 0,
      snoozedUntil: 0,
      shown: 0,
      keys: 0,
    });
  });

  it('keeps the parts of the host that did not change', async () => {
    const { dash, push } = await started();
    const filesystems = dash.host!.filesystems;
    const memoryItem = dash.items.find((i) => i.id === 'memory');
    push(tick(1));
    expect(dash.host!.filesystems).toBe(filesystems);
    expect(dash.items.find((i) => i.id === 'memory')).toBe(memoryItem);
    expect(dash.items.find((i) => i.id === 'cpu')?.used).toBe(11);
  });

  it('lists alerts and probe results newest first, bounded', async () => {
    const { dash, push } = await started();
    for (let n = 0; n < 510; n++) {
      push({ kind: 'alert', entry: { ts: T0 + n, kind: 'transition', item: 'cpu', level: 'ok', previous: 'warning', message: `#${n}` } });
    }
    expect(dash.alerts.length).toBe(500);
    expect(dash.alerts[0].message).toBe('#509');
    for (let n = 0; n < 205; n++) {
      push({
        kind: 'probe',
        result: { target: '127.0.0.1:25', outcome: 'ok', phase: 'quit', reply: null, class: 'ok', timings_ms: {}, total_ms: 1, name: 'local', ts: T0 + n, detail: null },
      });
    }
    expect(dash.probes.length).toBe(200);
    expect(dash.probes[0].ts).toBe(T0 + 204);
  });

  it('shows Probing… from the click until the result arrives, and says why nothing ran', async () => {
    let answer: 'started' | 'no_targets' | 'debounced' = 'started';
    const { dash, push } = await started({ probeNow: vi.fn(async () => answer) });
    await dash.runProbes();
    expect(dash.probing).toBe(true);
    push({
      kind: 'probe',
      result: { target: '127.0.0.1:25', outcome: 'ok', phase: 'quit', reply: null, class: 'ok', timings_ms: {}, total_ms: 1, name: 'local', ts: T0, detail: null },
    });
    expect(dash.probing).toBe(false);
    answer = 'no_targets';
    await dash.runProbes();
    expect(dash.probing).toBe(false);
    expect(dash.probeMessage).toBe('No probe targets are configured.');
    answer = 'debounced';
    await dash.runProbes();
    expect(dash.probeMessage).toBe('Probed a moment ago; the result is in the probe log.');
  });

  it('loads a range from history, and a later click wins over an earlier answer', async () => {
    const pending: ((b: SampleBatch) => void)[] = [];
    const { dash } = await started({ getHistory: vi.fn(() => new Promise<SampleBatch>((r) => pending.push(r))) });
    expect(dash.shown).toBe(dash.live);
    const day = dash.selectRange('24h');
    expect(dash.rangeStatus).toBe('loading 24 h…');
    const hour = dash.selectRange('1h');
    pending[1](samplesAt([T0 - 1, T0], () => 5));
    await hour;
    pending[0](samplesAt([T0 - 2, T0 - 1, T0], () => 9));
    await day;
    expect(dash.range).toBe('1h');
    expect(dash.rangeStatus).toBe('1 h from history: 2 points');
    expect(dash.shown).not.toBe(dash.live);
    expect(dash.shown.latest('cpu_percent')).toBe(5);
    await dash.selectRange('live');
    expect(dash.rangeStatus).toBe(LIVE_STATUS);
    expect(dash.shown).toBe(dash.live);
  });

  it('while a range from history is shown, ticks wait and reach the live timeline in one go, in order', async () => {
    const { dash, push } = await started();
    push(tick(1, 11));
    await dash.selectRange('1h');
    const liveTs = dash.live.ts;
    push(tick(2, 22));
    // A series that appears while the range is shown is null for the ticks before it.
    push({ ...tick(3, 33), samples: { ...samplesAt([T0 + 3], () => 33), series: { ...samplesAt([T0 + 3], () => 33).series, 'queue:hold': [7] } } });
    expect(dash.live.ts).toBe(liveTs);
    expect(dash.host?.cpu_percent).toBe(33);
    await dash.selectRange('live');
    expect(dash.live.ts.slice(-3)).toEqual([T0 + 1, T0 + 2, T0 + 3]);
    expect(dash.live.column('cpu_percent')?.slice(-3)).toEqual([11, 22, 33]);
    expect(dash.live.column('queue:hold')?.slice(-3)).toEqual([null, null, 7]);
    push(tick(4, 44));
    expect(last(dash.live.ts)).toBe(T0 + 4);
  });

  it('says why a range or an export failed', async () => {
    const { dash } = await started({
      getHistory: vi.fn(async () => Promise.reject({ message: 'database is locked' })),
      exportCsv: vi.fn(async () => Promise.reject({ message: 'disk full' })),
    });
    await dash.selectRange('7d');
    expect(dash.rangeStatus).toBe('history unavailable: database is locked');
    expect(dash.shown).toBe(dash.live);
    await dash.exportRange();
    expect(dash.exportStatus).toBe('Export failed: disk full');
  });

  it('exports the range shown, an hour when live', async () => {
    const { dash, api } = await started();
    await dash.exportRange();
    expect(api.exportCsv).toHaveBeenLastCalledWith(3600, []);
    expect(dash.exportStatus).toBe('Saved /tmp/headroom.csv');
    await dash.selectRange('7d');
    await dash.exportRange();
    expect(api.exportCsv).toHaveBeenLastCalledWith(7 * 86400, []);
  });

  it('snoozes, and the snooze ends by the tick clock though the engine keeps the old time', async () => {
    const { dash, push, api } = await started();
    expect(dash.snoozedUntil).toBeNull();
    await dash.toggleSnooze();
    expect(api.snooze).toHaveBeenLastCalledWith(60);
    expect(dash.snoozedUntil).toBe(T0 + 3600);
    push({ ...tick(10), state: { ...stateAt(T0 + 10, 10), snoozed_until: T0 + 3600 } } as UiEvent);
    expect(dash.snoozedUntil).toBe(T0 + 3600);
    await dash.toggleSnooze();
    expect(api.snooze).toHaveBeenLastCalledWith(null);
    expect(dash.snoozedUntil).toBeNull();
    // A snooze that passed: snoozed_until stays set, the button offers a new one.
    push({ ...tick(3601), state: { ...stateAt(T0 + 3601, 10), snoozed_until: T0 + 3600 } } as UiEvent);
    expect(dash.snoozeSetUntil).toBe(T0 + 3600);
    expect(dash.snoozedUntil).toBeNull();
  });

  it('polls the destinations while the window can be seen, not while it is hidden', async () => {
    vi.useFakeTimers();
    let visible = true;
    const f = fakeApi();
    const dash = new Dashboard(f.api, { visible: () => visible });
    stops.push(dash.start());
    await vi.advanceTimersByTimeAsync(0);
    const polls = () => f.calls.filter((c) => c === 'getDestinations').length;
    expect(polls()).toBe(1);
    await vi.advanceTimersByTimeAsync(DESTINATIONS_EVERY_MS * 2);
    expect(polls()).toBe(3);
    visible = false;
    await vi.advanceTimersByTimeAsync(DESTINATIONS_EVERY_MS * 4);
    expect(polls()).toBe(3);
    visible = true;
    await vi.advanceTimersByTimeAsync(DESTINATIONS_EVERY_MS);
    expect(polls()).toBe(4);
  });

  it('keeps an unchanged destinations report, so its panel does not re-render', async () => {
    const report = () => ({
      window_s: 3600,
      domains: [],
      relays: [],
      local: [],
      stats: { lines: 10, deliveries: 2, failures: 0, unparsed: 0, skipped: 0 },
    });
    const { dash } = await started({ getDestinations: vi.fn(async () => report() as never) });
    const first = dash.destinations;
    expect(first).not.toBeNull();
    await dash.refreshDestinations();
    expect(dash.destinations).toBe(first);
  });
});

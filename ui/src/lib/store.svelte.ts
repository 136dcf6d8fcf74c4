import * as tauri from '../api';
import type {
  AlertEntry,
  HistoryStatus,
  HostSample,
  Item,
  Level,
  MaillogReport,
  MtaSample,
  ProbeResult,
  SampleBatch,
  ServerRow,
  SourceProblem,
  StateView,
  UiEvent,
} from '../types';
import { share } from './share';
import { Timeline } from './timeline.svelte';

/**
 * The dashboard's state and everything it asks the engine, without a DOM: the live
 * channel, the probe and alert logs, the chart range loaded from history, snooze and
 * probe-now. Panels read its fields; tests drive it with a fake `Api`.
 *
 * Every field is its own `$state.raw`, and a tick assigns each field a value that keeps
 * its identity when it did not change (see `share`), so a tick where only the CPU moved
 * wakes only what shows the CPU, not the mail server panel or the logs.
 */

/** What the store needs from src/api.ts (the only module that talks to Tauri). */
export type Api = Pick<
  typeof tauri,
  'getState' | 'subscribe' | 'snooze' | 'probeNow' | 'getDestinations' | 'getHistory' | 'exportCsv' | 'selectServer'
>;

export interface Range {
  id: string;
  label: string;
  seconds: number;
}

export const RANGES: readonly Range[] = [
  { id: '15m', label: '15 min', seconds: 15 * 60 },
  { id: '1h', label: '1 h', seconds: 3600 },
  { id: '24h', label: '24 h', seconds: 86400 },
  { id: '7d', label: '7 d', seconds: 7 * 86400 },
  { id: '30d', label: '30 d', seconds: 30 * 86400 },
];

export const LIVE_STATUS = 'live: the last hour, updated every tick';
const MAX_ALERTS = 500;
const MAX_PROBES = 200;
export const DESTINATIONS_EVERY_MS = 15000;

export interface Options {
  /** Whether anyone can see the window; hidden windows skip the destinations poll. */
  visible?: () => boolean;
}

export class Dashboard {
  /** The last tick's time (Unix seconds), null before the first. */
  ts = $state.raw<number | null>(null);
  status = $state.raw<Level>('unknown');
  summary = $state.raw<string | null>(null);
  items = $state.raw<Item[]>([]);
  host = $state.raw<HostSample | null>(null);
  mta = $state.raw<MtaSample | null>(null);
  problems = $state.raw<SourceProblem[]>([]);
  configPath = $state.raw<string | null>(null);
  configError = $state.raw<string | null>(null);
  trayProblem = $state.raw<string | null>(null);
  history = $state.raw<HistoryStatus | null>(null);
  /** As the engine reports it; it stays set after it passed (see `snoozedUntil`). */
  snoozeSetUntil = $state.raw<number | null>(null);
  /** The engine has a probe in flight. */
  engineProbing = $state.raw(false);
  /** Every watched server (this machine and the agents) with its level. */
  servers = $state.raw<ServerRow[]>([]);
  /** The server whose figures are shown. */
  selected = $state.raw<string>('local');

  alerts = $state.raw<AlertEntry[]>([]);
  probes = $state.raw<ProbeResult[]>([]);
  destinations = $state.raw<MaillogReport | null>(null);
  loadError = $state.raw<string | null>(null);
  probeMessage = $state.raw<string | null>(null);
  /** Probe now was clicked and its result has not arrived yet. */
  probeRequested = $state.raw(false);

  /** The last hour, as the ticks bring it. */
  readonly live = new Timeline(60 * 60);
  range = $state.raw<string>('live');
  rangeTimeline = $state.raw<Timeline | null>(null);
  rangeStatus = $state.raw<string>(LIVE_STATUS);
  exportStatus = $state.raw<string | null>(null);

  /** What the charts show: the live window, or the range loaded from history. */
  shown = $derived(this.range === 'live' || !this.rangeTimeline ? this.live : this.rangeTimeline);
  probing = $derived(this.probeRequested || this.engineProbing);
  /** When the snooze ends, while it has not; measured against the tick clock. */
  snoozedUntil = $derived(
    this.snoozeSetUntil !== null && this.snoozeSetUntil > (this.ts ?? Date.now() / 1000) ? this.snoozeSetUntil : null,
  );

  readonly #api: Api;
  readonly #visible: () => boolean;
  #rangeRequest = 0;
  /** Samples of ticks that came before get_state answered; null once it has. */
  #early: SampleBatch[] | null = [];
  /**
   * Samples of ticks that came while a range from history was shown: nobody sees the
   * live charts then, so they are kept here and appended in one go when live is shown
   * again, instead of copying the hour's columns every tick. At most as many ticks as
   * the live hour has seconds.
   */
  #held: SampleBatch[] = [];

  constructor(api: Api = tauri, options: Options = {}) {
    this.#api = api;
    this.#visible = options.visible ?? (() => typeof document === 'undefined' || document.visibilityState !== 'hidden');
  }

  /**
   * Subscribes, loads the state and history, and polls the destinations. Returns the
   * function that stops the poll (the channel lives as long as the window).
   */
  start(): () => void {
    void this.#load();
    const timer = setInterval(() => {
      if (this.#visible()) void this.refreshDestinations();
    }, DESTINATIONS_EVERY_MS);
    return () => clearInterval(timer);
  }

  async #load(): Promise<void> {
    try {
      // Subscribe first so nothing between the two calls is lost.
      await this.#api.subscribe((e) => this.onEvent(e));
      const initial = await this.#api.getState();
      this.live.append(initial.history);
      if (this.ts === null || (initial.state.ts ?? 0) >= this.ts) this.applyState(initial.state);
      this.alerts = share(this.alerts, initial.alerts);
      this.probes = share(this.probes, initial.probes);
    } catch (err) {
      this.loadError = String(err);
    }
    // Ticks that overlapped get_state: the history may hold them already, and an older
    // sample after it would read as a clock gone back and restart the timeline.
    const early = this.#early ?? [];
    this.#early = null;
    for (const b of early) this.live.append(after(b, this.live.ts[this.live.ts.length - 1]));
    await this.refreshDestinations();
  }

  onEvent(e: UiEvent): void {
    if (e.kind === 'tick') {
      this.applyState(e.state);
      if (this.#early) this.#early.push(e.samples);
      else if (this.shown !== this.live) this.#hold(e.samples);
      else this.live.append(e.samples);
    } else if (e.kind === 'alert') {
      this.alerts = [e.entry, ...this.alerts].slice(0, MAX_ALERTS);
    } else if (e.kind === 'probe') {
      this.probes = [e.result, ...this.probes].slice(0, MAX_PROBES);
      this.probeRequested = false;
    }
  }

  #hold(samples: SampleBatch): void {
    this.#held.push(samples);
    if (this.#held.length > this.live.maxAgeS) this.#held.shift();
  }

  /** The held ticks go into the live timeline (live is about to be shown). */
  #release(): void {
    if (!this.#held.length) return;
    const held = this.#held;
    this.#held = [];
    this.live.append(merge(held));
  }

  /** Takes a state as a whole and keeps the identity of every part that did not change. */
  applyState(s: StateView): void {
    this.ts = s.ts;
    this.status = s.status;
    this.summary = s.summary;
    this.items = share(this.items, s.assessment?.items ?? []);
    this.host = share(this.host, s.host);
    this.mta = share(this.mta, s.mta);
    this.problems = share(this.problems, s.problems);
    this.configPath = s.config_path;
    this.configError = s.config_error;
    this.trayProblem = s.tray_problem;
    this.history = share(this.history, s.history);
    this.snoozeSetUntil = s.snoozed_until;
    this.engineProbing = s.probing;
    this.servers = share(this.servers, s.servers);
    this.selected = s.selected;
  }

  /** Shows another server's dashboard: its state, logs and charts replace these. */
  async selectServer(id: string): Promise<void> {
    if (id === this.selected) return;
    try {
      await this.#api.selectServer(id);
      const initial = await this.#api.getState();
      this.#held = [];
      this.live.clear();
      this.live.append(initial.history);
      this.applyState(initial.state);
      this.alerts = share(this.alerts, initial.alerts);
      this.probes = initial.probes;
      this.probeMessage = null;
      this.probeRequested = false;
      if (this.range !== 'live') await this.selectRange(this.range);
    } catch (err) {
      this.loadError = errorText(err);
    }
  }

  async refreshDestinations(): Promise<void> {
    try {
      this.destinations = share(this.destinations, await this.#api.getDestinations(60));
    } catch {
      this.destinations = null;
    }
  }

  async runProbes(): Promise<void> {
    this.probeMessage = null;
    this.probeRequested = true;
    const answer = await this.#api.probeNow();
    if (answer === 'no_targets') {
      this.probeMessage = 'No probe targets are configured.';
      this.probeRequested = false;
    } else if (answer === 'debounced') {
      this.probeMessage = 'Probed a moment ago; the result is in the probe log.';
      this.probeRequested = false;
    }
  }

  async toggleSnooze(): Promise<void> {
    this.snoozeSetUntil = await this.#api.snooze(this.snoozedUntil !== null ? null : 60);
  }

  async selectRange(id: string): Promise<void> {
    const request = ++this.#rangeRequest;
    this.range = id;
    this.exportStatus = null;
    if (id === 'live') {
      this.#release();
      this.rangeStatus = LIVE_STATUS;
      return;
    }
    const r = RANGES.find((x) => x.id === id);
    if (!r) throw new Error(`unknown range ${id}`);
    this.rangeStatus = `loading ${r.label}…`;
    try {
      const batch = await this.#api.getHistory(r.seconds, []);
      // A later click wins: an answer that arrives after it is dropped.
      if (request !== this.#rangeRequest) return;
      const t = new Timeline(r.seconds);
      t.append(batch);
      this.rangeTimeline = t;
      this.rangeStatus = `${r.label} from history: ${batch.ts.length} points`;
    } catch (e) {
      if (request !== this.#rangeRequest) return;
      this.#release();
      this.rangeTimeline = null;
      this.rangeStatus = `history unavailable: ${errorText(e)}`;
    }
  }

  async exportRange(): Promise<void> {
    const seconds = RANGES.find((x) => x.id === this.range)?.seconds ?? 3600;
    try {
      this.exportStatus = `Saved ${await this.#api.exportCsv(seconds, [])}`;
    } catch (e) {
      this.exportStatus = `Export failed: ${errorText(e)}`;
    }
  }
}

/** Several batches as one, in order; a series missing from a batch is null there. */
export function merge(batches: readonly SampleBatch[]): SampleBatch {
  if (batches.length === 1) return batches[0];
  const ts = batches.flatMap((b) => b.ts);
  const names = new Set(batches.flatMap((b) => Object.keys(b.series)));
  const series: SampleBatch['series'] = {};
  for (const name of names) {
    series[name] = batches.flatMap((b) => b.series[name] ?? new Array<number | null>(b.ts.length).fill(null));
  }
  return { ts, series };
}

/** The samples of `batch` newer than `ts` (all of them when `ts` is undefined). */
function after(batch: SampleBatch, ts: number | undefined): SampleBatch {
  if (ts === undefined) return batch;
  const keep = batch.ts.flatMap((t, i) => (t > ts ? [i] : []));
  if (keep.length === batch.ts.length) return batch;
  const series: SampleBatch['series'] = {};
  for (const [name, col] of Object.entries(batch.series)) series[name] = keep.map((i) => col[i] ?? null);
  return { ts: keep.map((i) => batch.ts[i]), series };
}

/** The message of an IPC error ({message}) or of anything else thrown. */
export function errorText(e: unknown): string {
  return e && typeof e === 'object' && 'message' in e ? String((e as { message: unknown }).message) : String(e);
}

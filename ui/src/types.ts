// Shapes of what the Rust side sends (src-tauri/src/state.rs, engine assess/ and
// snapshot.rs). Field names follow the JSON contracts of DESIGN.md.

export type Level = 'ok' | 'watch' | 'unknown' | 'warning' | 'critical';

export interface Item {
  id: string;
  used: number | null;
  limit: number | null;
  ratio: number | null;
  level: Level;
  forecast_s: number | null;
  detail: string;
}

export interface Assessment {
  ts: number;
  status: Level;
  items: Item[];
}

export interface FilesystemSample {
  mount_point: string;
  device: string;
  fs_type: string;
  total_bytes: number;
  free_bytes: number;
  total_inodes: number;
  free_inodes: number;
}

export interface HostSample {
  cpu_percent: number | null;
  cores: number;
  load: [number, number, number] | null;
  memory: {
    total_bytes: number;
    used_bytes: number;
    swap_total_bytes: number;
    swap_used_bytes: number;
  } | null;
  filesystems: FilesystemSample[];
  disks: { device: string; util_percent: number }[];
}

export interface SourceProblem {
  source: string;
  message: string;
}

export interface StateView {
  ts: number | null;
  status: Level;
  summary: string;
  assessment: Assessment | null;
  host: HostSample | null;
  problems: SourceProblem[];
  config_path: string | null;
  config_error: string | null;
  tray_problem: string | null;
  snoozed_until: number | null;
  interval_secs: number;
  probing: boolean;
  mta: MtaSample | null;
  history: HistoryStatus;
}

/** Column-wise samples: series[name][i] belongs to ts[i]; null is a gap. */
export interface SampleBatch {
  ts: number[];
  series: Record<string, (number | null)[]>;
}

export interface AlertEntry {
  ts: number;
  kind: 'transition' | 'snooze';
  item: string | null;
  level: Level | null;
  previous: Level | null;
  message: string;
}

export interface Initial {
  state: StateView;
  history: SampleBatch;
  alerts: AlertEntry[];
  probes: ProbeResult[];
}

export type UiEvent =
  | { kind: 'tick'; state: StateView; samples: SampleBatch }
  | { kind: 'alert'; entry: AlertEntry }
  | { kind: 'probe'; result: ProbeResult };

export interface Reply {
  code: number;
  enhanced: string | null;
  text: string;
}

export type ProbeOutcome =
  | 'ok' | 'tempfail' | 'permfail' | 'timeout' | 'refused' | 'unreachable'
  | 'protocol_error' | 'tls_error' | 'dns_error';

/** One probe (the `probe --json` contract plus name, ts and detail). */
export interface ProbeResult {
  target: string;
  outcome: ProbeOutcome;
  phase: string;
  reply: Reply | null;
  class: string;
  timings_ms: Record<string, number>;
  total_ms: number;
  name: string;
  ts: number;
  detail: string | null;
}

export interface Explanation {
  code: number | null;
  enhanced: string | null;
  class: string;
  meaning: string;
  causes: string[];
  fixes: string[];
}

export interface Counted {
  key: string;
  count: number;
}

export interface MtaSample {
  kind: string;
  version: string | null;
  running: boolean;
  limits: Record<string, number | null>;
  config_source: string;
  services: {
    name: string;
    command: string;
    port: number | null;
    process_limit: number | null;
    processes: number;
    connections: number;
  }[];
  queue: {
    maildrop: number | null;
    incoming: number | null;
    active: number | null;
    deferred: number | null;
    hold: number | null;
    oldest_age_s: number | null;
    method: string;
  } | null;
  details: {
    messages: number;
    top_reasons: Counted[];
    top_domains: Counted[];
    complete: boolean;
  } | null;
  notes: string[];
}

export interface ClassCount {
  class: string;
  count: number;
}

export interface DestinationReport {
  name: string;
  counts: ClassCount[];
  failures: number;
  delivered: number;
  failure_rate_per_min: number;
  throttled_ratio: number | null;
  per_minute: number[];
  latest: { ts: number; class: string; code: number | null; enhanced: string | null; text: string } | null;
  explanation: Explanation | null;
}

export interface MaillogReport {
  window_s: number;
  domains: DestinationReport[];
  relays: DestinationReport[];
  local: ClassCount[];
  stats: { lines: number; failures: number; deliveries: number };
}

export interface ProbeTarget {
  name: string;
  host: string;
  port: number;
  tls: 'none' | 'starttls' | 'implicit';
  interval_secs: number;
  timeout_secs: number;
  helo: string | null;
  mail_from: string;
  rcpt_to: string | null;
  send: boolean;
  username: string | null;
  verify_tls: boolean;
  ca_file?: string | null;
}

export interface Settings {
  interval_secs: number;
  warn_ratio: number;
  crit_ratio: number;
  forecast_horizon_mins: number;
  notifications_enabled: boolean;
  min_repeat_mins: number;
  probes: ProbeTarget[];
}

export interface SettingsError {
  field: string;
  message: string;
}

export interface HistoryStatus {
  enabled: boolean;
  path: string | null;
  problem: string | null;
  recovered_from: string | null;
}

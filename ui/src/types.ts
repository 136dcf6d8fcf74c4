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
}

export type UiEvent =
  | { kind: 'tick'; state: StateView; samples: SampleBatch }
  | { kind: 'alert'; entry: AlertEntry };

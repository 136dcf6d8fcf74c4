// What the Rust side sends. Every shape is generated from the Rust types by ts-rs
// (`cargo test` writes ./bindings; see .cargo/config.toml), so the window and the
// engine cannot drift apart: `make test` fails when the committed bindings are stale.
// This file only gathers them under the names the components use.

export type { AlertEntry } from './bindings/AlertEntry';
export type { Assessment } from './bindings/Assessment';
export type { ClassCount } from './bindings/ClassCount';
export type { Counted } from './bindings/Counted';
export type { DestinationReport } from './bindings/DestinationReport';
export type { Explanation } from './bindings/Explanation';
export type { FilesystemSample } from './bindings/FilesystemSample';
export type { HistoryStatus } from './bindings/HistoryStatus';
export type { HostSample } from './bindings/HostSample';
export type { Initial } from './bindings/Initial';
export type { Item } from './bindings/Item';
export type { Level } from './bindings/Level';
export type { MaillogReport } from './bindings/MaillogReport';
export type { MtaSample } from './bindings/MtaSample';
export type { ProbeResult } from './bindings/ProbeResult';
export type { ProbeTarget } from './bindings/ProbeTarget';
export type { Reply } from './bindings/Reply';
export type { SampleBatch } from './bindings/SampleBatch';
export type { ServerEntry } from './bindings/ServerEntry';
export type { ServerRow } from './bindings/ServerRow';
export type { Tested } from './bindings/Tested';
export type { Settings } from './bindings/Settings';
export type { SettingsError } from './bindings/SettingsError';
export type { SourceProblem } from './bindings/SourceProblem';
export type { StateView } from './bindings/StateView';
export type { UiEvent } from './bindings/UiEvent';

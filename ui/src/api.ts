// The only file that talks to Tauri. Components import from here, so tests can mock
// one module and the rest of the UI never sees IPC.
import { Channel, invoke } from '@tauri-apps/api/core';
import type { Explanation, Initial, MaillogReport, SampleBatch, ServerEntry, Settings, Tested, UiEvent } from './types';

export function getState(): Promise<Initial> {
  return invoke<Initial>('get_state');
}

/** Live ticks and alerts, in order, until the window closes. */
export async function subscribe(onEvent: (e: UiEvent) => void): Promise<void> {
  const events = new Channel<UiEvent>();
  events.onmessage = onEvent;
  await invoke('subscribe', { events });
}

/** Snooze notifications for `minutes`, or resume them with null. */
export function snooze(minutes: number | null): Promise<number | null> {
  return invoke<number | null>('snooze', { minutes });
}

/** Whether Headroom starts at login (its autostart entry exists and is on). */
export function getAutostart(): Promise<boolean> {
  return invoke<boolean>('get_autostart');
}

/** Writes or removes the autostart entry; resolves to what the file says now. */
export function setAutostart(enabled: boolean): Promise<boolean> {
  return invoke<boolean>('set_autostart', { enabled });
}

export function quitApp(): Promise<void> {
  return invoke('quit_app');
}

export type ProbeNowAnswer = 'started' | 'already_running' | 'debounced' | 'no_targets';

/** Probe every target now (debounced on the Rust side). */
export function probeNow(): Promise<ProbeNowAnswer> {
  return invoke<ProbeNowAnswer>('probe_now');
}

/** Meaning, causes and fixes of a reply, with this server's live values. */
export function explainReply(code: number, enhanced: string | null, text: string): Promise<Explanation> {
  return invoke<Explanation>('explain_reply', { code, enhanced, text });
}

/** Who is deferring our mail and why (null when no mail log is followed). */
export function getDestinations(windowMins: number): Promise<MaillogReport | null> {
  return invoke<MaillogReport | null>('get_destinations', { windowMins });
}

export function getSettings(): Promise<Settings> {
  return invoke<Settings>('get_settings');
}

/** Saves and applies; rejects with {field, message} when a value is refused. */
export function saveSettings(settings: Settings): Promise<Settings> {
  return invoke<Settings>('save_settings', { settings });
}

/** Samples of the last `rangeS` seconds from the history store. */
export function getHistory(rangeS: number, names: string[]): Promise<SampleBatch> {
  return invoke<SampleBatch>('get_history', { rangeS, names });
}

/** Writes a CSV of the range; resolves to the file's path. */
export function exportCsv(rangeS: number, names: string[]): Promise<string> {
  return invoke<string>('export_csv', { rangeS, names });
}

/** Shows server `id`'s dashboard (`local` or a [[server]] name). */
export function selectServer(id: string): Promise<void> {
  return invoke('select_server', { id });
}

/** Settings' "Test connection": what answered, or the fingerprint to accept. */
export function testServer(entry: ServerEntry, token: string | null): Promise<Tested> {
  return invoke<Tested>('test_server', { entry, token });
}

/** Stores an agent's token in the OS keyring (never in the file) and reconnects. */
export function setServerToken(name: string, token: string): Promise<void> {
  return invoke('set_server_token', { name, token });
}

import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import * as api from '../api';
import SettingsPanel from './SettingsPanel.svelte';

vi.mock('../api', () => ({
  getSettings: vi.fn(async () => ({
    interval_secs: 5, warn_ratio: 0.8, crit_ratio: 0.95, forecast_horizon_mins: 30,
    notifications_enabled: true, min_repeat_mins: 10, probes: [], servers: [], local_enabled: true,
  })),
  saveSettings: vi.fn(async (s: unknown) => s),
  getAutostart: vi.fn(async () => true),
  setAutostart: vi.fn(async (on: boolean) => on),
  probeNow: vi.fn(async () => 'started'),
  testServer: vi.fn(),
  setServerToken: vi.fn(),
}));

const mounted: ReturnType<typeof mount>[] = [];
afterEach(() => {
  mounted.splice(0).forEach((m) => unmount(m));
  document.body.innerHTML = '';
  vi.clearAllMocks();
});

async function panel(): Promise<{ el: HTMLElement; box: HTMLInputElement }> {
  const el = document.createElement('div');
  document.body.appendChild(el);
  mounted.push(mount(SettingsPanel, { target: el, props: { configPath: '/tmp/config.toml' } }));
  await vi.waitFor(() => expect(el.querySelector('[data-testid=setting-autostart]')).not.toBeNull());
  return { el, box: el.querySelector('[data-testid=setting-autostart]') as HTMLInputElement };
}

function save(el: HTMLElement) {
  (el.querySelector('[data-testid=settings-save]') as HTMLButtonElement).click();
}

describe('Start Headroom when I log in', () => {
  it('shows what the autostart entry says', async () => {
    const { box } = await panel();
    expect(box.checked).toBe(true);
  });

  it('is written on Save only when it changed, after the settings were saved', async () => {
    const { el, box } = await panel();
    save(el);
    await vi.waitFor(() => expect(el.querySelector('[data-testid=settings-saved]')).not.toBeNull());
    expect(api.setAutostart).not.toHaveBeenCalled();
    box.click();
    flushSync();
    save(el);
    await vi.waitFor(() => expect(api.setAutostart).toHaveBeenCalledWith(false));
    expect(api.saveSettings).toHaveBeenCalledTimes(2);
    await vi.waitFor(() => expect(el.querySelector('[data-testid=settings-saved]')).not.toBeNull());
    expect(box.checked).toBe(false);
  });

  it('a refused write names the setting and keeps the box as the user left it', async () => {
    vi.mocked(api.setAutostart).mockRejectedValueOnce({ kind: 'autostart', message: 'cannot write /x: read-only' });
    const { el, box } = await panel();
    box.click();
    flushSync();
    save(el);
    await vi.waitFor(() =>
      expect(el.querySelector('[data-testid=settings-error]')?.textContent).toBe('autostart: cannot write /x: read-only'),
    );
    expect(el.querySelector('[data-testid=settings-saved]')).toBeNull();
    expect(box.checked).toBe(false);
  });

  it('settings refused by the engine leave the autostart entry alone', async () => {
    vi.mocked(api.saveSettings).mockRejectedValueOnce({ field: 'thresholds.warn_ratio', message: 'too high' });
    const { el, box } = await panel();
    box.click();
    flushSync();
    save(el);
    await vi.waitFor(() => expect(el.querySelector('[data-testid=settings-error]')).not.toBeNull());
    expect(api.setAutostart).not.toHaveBeenCalled();
  });
});

import { describe, expect, it } from 'vitest';
import { barPercent, forecastText, formatBytes, formatDuration, formatValue, itemTitle, usedOfLimit } from './format';

describe('format', () => {
  it('formats values in the unit of the item', () => {
    expect(formatValue('cpu', 97.4)).toBe('97%');
    expect(formatValue('cpu', 3.25)).toBe('3.3%');
    expect(formatValue('memory', 3.5 * 1024 ** 3)).toBe('3.5 GiB');
    expect(formatValue('smtpd_processes', 88)).toBe('88');
    expect(formatValue('load', 1.234)).toBe('1.23');
    expect(formatValue('cpu', null)).toBe('—');
  });

  it('says how soon an item fills up', () => {
    const item = { id: 'smtpd_processes' as const, used: 88, limit: 100, ratio: 0.88, level: 'warning' as const, forecast_s: 360, detail: '' };
    expect(usedOfLimit(item)).toBe('88 / 100');
    expect(forecastText(item)).toBe('full in ~6 min');
    expect(forecastText({ ...item, forecast_s: null })).toBeNull();
  });

  it('names items from the engine\'s item table', () => {
    expect(itemTitle('accept_backlog')).toBe('Clients waiting for a banner');
    expect(itemTitle('smtpd_processes')).toBe('smtpd processes');
    expect(itemTitle('not_an_item')).toBe('not_an_item');
  });

  it('formats bytes and durations', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatDuration(45)).toBe('45 s');
    expect(formatDuration(7200)).toBe('2.0 h');
  });

  it('sizes bars in whole percent, within the bar', () => {
    expect(barPercent(0.3751)).toBe(38);
    expect(barPercent(0.37509)).toBe(barPercent(0.3751));
    expect(barPercent(1.7)).toBe(100);
    expect(barPercent(-0.1)).toBe(0);
    expect(barPercent(null)).toBe(0);
  });
});

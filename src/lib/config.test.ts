import { describe, expect, it } from 'vitest';
import { getConfig, parseDotenv } from './config';

describe('getConfig', () => {
  it('has sensible defaults and is frozen', () => {
    const c = getConfig({});
    expect(c).toMatchObject({ databaseUrl: undefined, host: '127.0.0.1', port: 3000, baseUrl: 'http://localhost:3000', concurrency: 10 });
    expect(Object.isFrozen(c)).toBe(true);
    expect(c.dataDir.endsWith('.stitch')).toBe(true);
  });

  it('takes the base URL from STITCH_BASE_URL, else NEXT_PUBLIC_BASE_URL (the guide\'s name)', () => {
    expect(getConfig({ NEXT_PUBLIC_BASE_URL: 'https://a.example/' }).baseUrl).toBe('https://a.example');
    expect(getConfig({ NEXT_PUBLIC_BASE_URL: 'https://a.example', STITCH_BASE_URL: 'https://b.example' }).baseUrl).toBe('https://b.example');
  });

  it('camel-cases every *_API_KEY / *_API_ENDPOINT / *_API_URL into workers', () => {
    const c = getConfig({ WEATHER_API_KEY: 'w', MY_API_ENDPOINT: 'https://x', ANTHROPIC_API_KEY: 'k', EMPTY_API_KEY: '' });
    expect(c.workers.weatherApiKey).toBe('w');
    expect(c.workers.myApiEndpoint).toBe('https://x');
    expect(c.workers.anthropicApiKey).toBe('k');
    expect(c.workers.emptyApiKey).toBeUndefined();
  });

  it("maps every other setting of a vendor into workers: built-in ones and those with a key (issue 12 B)", () => {
    const c = getConfig({ MINIMAX_GROUP_ID: 'g1', WEATHER_API_KEY: 'w', WEATHER_UNITS: 'metric', STITCH_PORT_X: 'no', PATH: '/bin', LONELY_SETTING: 'x' });
    expect(c.workers.minimaxGroupId).toBe('g1');
    expect(c.workers.weatherUnits).toBe('metric');
    expect(c.workers.stitchPortX).toBeUndefined();
    expect(c.workers.path).toBeUndefined();
    expect(c.workers.lonelySetting).toBeUndefined();
  });

  it('refuses nonsense numbers with a message naming the variable', () => {
    expect(() => getConfig({ PORT: 'eighty' })).toThrow('PORT must be a non-negative number, got "eighty"');
  });
});

describe('STITCH_RETENTION', () => {
  it('reads days per status; unset keeps every run; anything else names the variable', () => {
    expect(getConfig({}).retention).toEqual({ policy: {}, batch: 50, intervalSeconds: 3600 });
    expect(getConfig({ STITCH_RETENTION: 'completed=30, failed=90d,cancelled=0.5' }).retention.policy).toEqual({ completed: 30, failed: 90, cancelled: 0.5 });
    for (const bad of ['completed', 'running=3', 'completed=-1', 'failed=3h']) {
      expect(() => getConfig({ STITCH_RETENTION: bad }), bad).toThrow(/STITCH_RETENTION/);
    }
  });
});

describe('parseDotenv', () => {
  it('reads KEY=value lines with quotes, export and comments', () => {
    expect(parseDotenv('# c\nA=1\nexport B="two words"\nC=\'3\' \nD=x # note\nnot a line\n')).toEqual({ A: '1', B: 'two words', C: '3', D: 'x' });
  });
});

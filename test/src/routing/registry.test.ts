// The strategy registry: four names, unknown ones refused with the valid list.
import { describe, expect, it } from 'vitest';
import { SwitchboardError } from '../../../src/errors.ts';
import { assertStrategyName, createStrategies, STRATEGY_NAMES } from '../../../src/routing/registry.ts';

describe('strategy registry', () => {
  it('lists round-robin, priority, least-loaded and geolocation', () => {
    expect(STRATEGY_NAMES).toEqual(['round-robin', 'priority', 'least-loaded', 'geolocation']);
    expect([...createStrategies().keys()]).toEqual([...STRATEGY_NAMES]);
  });

  it('refuses an unknown name with SB_ERR_UNKNOWN_STRATEGY (400) naming the valid ones', () => {
    const err = (() => {
      try {
        assertStrategyName('fastest');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err).toMatchObject({ code: 'SB_ERR_UNKNOWN_STRATEGY', statusCode: 400 });
    expect((err as Error).message).toBe(
      'unknown routing strategy "fastest": valid strategies are round-robin, priority, least-loaded, geolocation',
    );
  });

  it('refuses geolocation as its own fallback', () => {
    expect(() => createStrategies({ geolocationFallback: 'geolocation' })).toThrow(
      /valid strategies are round-robin, priority, least-loaded$/,
    );
  });
});

// geolocation: the recipient's country picks the region's masters first, then the fallback strategy.
import { describe, expect, it } from 'vitest';
import { createGeolocation } from '../../../src/routing/geolocation.ts';
import { createLeastLoaded } from '../../../src/routing/least-loaded.ts';
import { CountryLookup } from '../../../src/routing/recipient-country.ts';
import { createRoundRobin } from '../../../src/routing/round-robin.ts';
import { decide, routingTable, tally } from '../../support/routing.ts';

const UAE = '+971501234567';
const US = '+14155552671';
const CANADA = '+16135550123';
const UK = '+447400123456';
const FLEET = [
  { phone: 'ae1', region: 'AE' },
  { phone: 'ae2', region: 'AE' },
  { phone: 'us', region: 'US' },
];

describe('geolocation strategy', () => {
  const geo = () => createGeolocation(new CountryLookup(), createRoundRobin());

  it('routes a UAE recipient to the AE masters and a US recipient to the US master', () => {
    const t = routingTable(FLEET);
    const g = geo();
    expect(tally(decide(t, g, 4, { to: UAE }))).toEqual({ ae1: 2, ae2: 2 });
    expect(decide(t, g, 2, { to: US })).toEqual(['us', 'us']);
  });

  it('tells a Canadian number from a US one under the shared +1 code', () => {
    const t = routingTable([...FLEET, { phone: 'ca', region: 'CA' }]);
    const g = geo();
    expect(decide(t, g, 1, { to: CANADA })).toEqual(['ca']);
    expect(decide(t, g, 1, { to: US })).toEqual(['us']);
  });

  it("falls back to the whole fleet when the region's masters are unroutable", () => {
    const t = routingTable([{ phone: 'us', region: 'US', routable: false }, ...FLEET.slice(0, 2)]);
    expect(tally(decide(t, geo(), 2, { to: US }))).toEqual({ ae1: 1, ae2: 1 });
  });

  it("falls back to the whole fleet when the region's master is rate-limited, and returns once it refills", () => {
    const t = routingTable([{ phone: 'us', region: 'US', ratePerMinute: 6 }, ...FLEET.slice(0, 2)]);
    const g = geo();
    expect(decide(t, g, 3, { to: US })).toEqual(['us', 'ae1', 'ae2']);
    expect(decide(t, g, 1, { to: US, now: 10_000 })).toEqual(['us']);
  });

  it('uses the fallback over the whole fleet for a country no master serves', () => {
    const t = routingTable(FLEET);
    expect(tally(decide(t, geo(), 3, { to: UK }))).toEqual({ ae1: 1, ae2: 1, us: 1 });
  });

  it('uses the given fallback strategy within the region too (least-loaded)', () => {
    const t = routingTable(FLEET);
    t.commit(t.indexOf('ae1'));
    const g = createGeolocation(new CountryLookup(), createLeastLoaded());
    expect(decide(t, g, 1, { to: UAE })).toEqual(['ae2']);
  });

  it('answers -1 when nothing in the fleet can take it', () => {
    const t = routingTable(FLEET.map((m) => ({ ...m, routable: false })));
    expect(decide(t, geo(), 1, { to: UAE })).toEqual(['-']);
  });
});

describe('recipient country lookup', () => {
  it('answers a calling code of one country without parsing', () => {
    const c = new CountryLookup();
    expect(c.countryOf(UAE)).toBe('AE');
    expect(c.countryOf('+4930123456')).toBe('DE');
    expect(c.parses).toBe(0);
  });

  it('parses a recipient under a shared calling code once, then answers from its cache', () => {
    const c = new CountryLookup();
    expect(c.countryOf(CANADA)).toBe('CA');
    expect(c.countryOf(CANADA)).toBe('CA');
    expect(c.countryOf(UK)).toBe('GB');
    expect(c.countryOf('+447781123456')).toBe('GG');
    expect(c.parses).toBe(3);
  });

  it('answers undefined for a malformed or unassigned number, and caches that too', () => {
    const c = new CountryLookup({ cacheSize: 2 });
    expect(c.countryOf('not a number')).toBeUndefined();
    expect(c.countryOf('+999123')).toBeUndefined();
    expect(c.countryOf('+999123')).toBeUndefined();
    expect(c.parses).toBe(2);
    expect(c.countryOf('+15550000000')).toBeUndefined();
  });
});

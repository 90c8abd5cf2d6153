// geolocation: masters whose region is the recipient's country first (chosen among by the fallback
// strategy), then the fallback strategy over the whole fleet when none of them can take it now.
import type { CountryLookup } from './recipient-country.ts';
import type { PoolStrategy, RoutingStrategy } from './strategy.ts';

export function createGeolocation(countries: CountryLookup, fallback: PoolStrategy): RoutingStrategy {
  return {
    name: 'geolocation',
    pick(table, to) {
      const country = countries.countryOf(to);
      if (country !== undefined) {
        const local = table.region(country);
        if (local.n > 0) {
          const i = fallback.pickIn(table, local);
          if (i >= 0) return i;
        }
      }
      return fallback.pickIn(table, table.all());
    },
  };
}

// The page's one global: elkjs's browser bundle (elk.bundled.js, a classic script) defines ELK.
import type ElkConstructor from 'elkjs/lib/elk-api';

declare global {
  const ELK: typeof ElkConstructor;
}

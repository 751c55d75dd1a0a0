/** noop: passes everything through untouched (toxiproxy's placeholder; useful to test the chain itself). */
import { passThrough } from '../stub.ts';
import { defineToxic } from '../toxic.ts';

export const noop = defineToxic({
  type: 'noop',
  summary: 'passes data through unchanged',
  attributes: {},
  pipe: passThrough,
});

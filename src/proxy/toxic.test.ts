/**
 * The defaults `faultline toxics` shows are the ones a request that leaves an attribute out really gets: for
 * every registered toxic, a create with no attributes either yields exactly the shown defaults, or is refused
 * naming exactly the attributes shown as "required" (slicer's average_size: toxiproxy takes 0 and dies).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFaultlineError } from '../core/errors.ts';
import { ToxicCollection } from './toxic-collection.ts';
import { isRequired } from './toxic.ts';
import { TOXICS } from './toxics/index.ts';

describe('toxic defaults', () => {
  for (const def of TOXICS.values()) {
    it(`${def.type}: no attributes gives the catalog's defaults, or names the required ones`, () => {
      const required = Object.entries(def.attributes).filter(([, spec]) => isRequired(spec)).map(([name]) => name);
      const body = { type: def.type, attributes: {} };
      if (required.length === 0) {
        const toxic = new ToxicCollection().parseNew(body);
        const shown = Object.fromEntries(Object.entries(def.attributes).map(([name, spec]) => [name, spec.default]));
        assert.deepEqual(toxic.attributes, shown);
        return;
      }
      assert.throws(
        () => new ToxicCollection().parseNew(body),
        (err: unknown) => isFaultlineError(err) && required.every((name) => err.message.includes(`attributes.${name}`)),
      );
      // Given the required ones (at their minimum), the rest take their shown defaults.
      const given = Object.fromEntries(required.map((name) => [name, def.attributes[name].min]));
      const toxic = new ToxicCollection().parseNew({ type: def.type, attributes: given });
      for (const [name, spec] of Object.entries(def.attributes)) {
        assert.equal(toxic.attributes[name], required.includes(name) ? spec.min : spec.default, name);
      }
    });
  }

  it('slicer is the one toxic with a required attribute today', () => {
    const withRequired = [...TOXICS.values()].filter((d) => Object.values(d.attributes).some(isRequired)).map((d) => d.type);
    assert.deepEqual(withRequired, ['slicer']);
  });
});

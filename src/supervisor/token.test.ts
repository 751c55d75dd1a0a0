// The contract between `faultline token` (signs) and the lab's api (verifies with its own code in lab/).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenError, verifyToken } from '../../lab/common/jwt.ts';
import { signToken } from './token.ts';

const now = 1_800_000_000;
const reason = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof TokenError) return err.reason;
    throw err;
  }
  return 'accepted';
};

test('a signed token verifies; exp, nbf, signature and shape are enforced', () => {
  const token = signToken({ sub: 'x', iat: now, nbf: now, exp: now + 60 }, 's3cret');
  assert.equal(verifyToken(token, 's3cret', now + 1).sub, 'x');
  assert.equal(reason(() => verifyToken(token, 'other', now)), 'bad_signature');
  assert.equal(reason(() => verifyToken(token, 's3cret', now + 60)), 'expired');
  assert.equal(reason(() => verifyToken(token, 's3cret', now - 1)), 'not_yet_valid');
  assert.equal(reason(() => verifyToken(token, 's3cret', now + 61, 5)), 'accepted'); // leeway
  assert.equal(reason(() => verifyToken('a.b', 's3cret', now)), 'malformed');
  assert.equal(reason(() => verifyToken('e30.e30.', 's3cret', now)), 'unsupported_alg');
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${token.split('.')[1]}.`;
  assert.equal(reason(() => verifyToken(none, 's3cret', now)), 'unsupported_alg');
});

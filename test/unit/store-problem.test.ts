import { ApplicationFailure } from '@temporalio/common';
import { HttpProblem } from '../../api/errors';
import { storeProblem } from '../../api/store-problem';

// A manual hand-off writes the key into the credential's store from the API process: whatever backend
// fails, the caller gets a problem it can act on, never a 500.
const failure = (type: string, nonRetryable: boolean) =>
  ApplicationFailure.create({ type, message: `store said no (${type})`, nonRetryable });
const answer = (err: unknown) => {
  const p = storeProblem(err);
  if (!(p instanceof HttpProblem)) throw new Error('not a problem');
  return { status: p.status, detail: p.message };
};

describe('a hand-off the secret store refused', () => {
  it.each([
    ['VaultUnavailable', false, 503],
    ['VaultKvUnavailable', false, 503],
    ['SecretsManagerUnavailable', false, 503],
    ['VaultForbidden', true, 502],
    ['VaultTlsUntrusted', true, 502],
    ['SecretsManagerTlsUntrusted', true, 502],
    ['VaultRequestRejected', true, 422],
    ['VaultKvRequestRejected', true, 422],
    ['SecretsManagerRequestRejected', true, 422],
    ['VaultKvMetadataLimit', true, 502],
  ])('%s answers %s… %d', (type, nonRetryable, status) => {
    const a = answer(failure(type, nonRetryable));
    expect(a.status).toBe(status);
    expect(a.detail).toMatch(/nothing was handed over/);
  });

  it('names the type of an unknown refusal, and leaves errors that are not store failures alone', () => {
    expect(answer(failure('SomethingNew', true)).detail).toContain('SomethingNew');
    const bug = new TypeError('x is undefined');
    expect(storeProblem(bug)).toBe(bug);
  });
});

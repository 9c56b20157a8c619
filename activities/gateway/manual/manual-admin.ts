// Gateways without an admin API (Flatkey, …): a human issues the replacement key and hands it to the
// API, and confirms revocation; the workflow waits for both. Any automated call is a configuration
// error, so it fails without retrying.
import { FailureTypes } from '../../../domain/failure-types';
import { ApplicationFailure } from '@temporalio/common';
import type { GatewayAdmin } from '../../../domain/ports';

const refuse = (what: string) =>
  Promise.reject(
    ApplicationFailure.nonRetryable(
      `manual gateway: a human must ${what}; rekey has no admin API for it`,
      FailureTypes.ManualGateway,
    ),
  );

export function createManualAdmin(): GatewayAdmin {
  return {
    kind: 'manual',
    // A human revokes by hand; rekey cannot switch the key off and on again.
    canDisable: false,
    describeKey: () => Promise.resolve(undefined),
    findIssued: () => Promise.resolve(undefined),
    createKey: () => refuse('issue the replacement key'),
    disableKey: () => refuse('disable the old key'),
    enableKey: () => refuse('re-enable the old key'),
    deleteKey: () => refuse('delete the old key'),
  };
}

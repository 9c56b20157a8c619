// FLIPPING and the secret's way back: every write to the stable and pending secret goes through the
// credential's SecretStore, whose operations are idempotent per rotation (look before write, tags).
import { FailureTypes } from '../../domain/failure-types';
import type {
  CredentialRef,
  Fingerprint,
  PromoteResult,
  RollbackResult,
  SecretVersionRef,
} from '../../domain/activity-io';
import { admitTarget, postGuarded } from '../notify/guarded-post';
import { nonRetryable, type AreaDeps } from './area-deps';

/** A rollout hook the allowlist, an address check or a redirect refuses: retrying cannot fix it. */
const hookRefused = (message: string) =>
  nonRetryable(FailureTypes.RolloutHookRejected, `rollout hook refused: ${message}`);

/** The activities that move the stable secret forward (promote, retire) or back (rollback, discard). */
export function secretFlipActivities(deps: Pick<AreaDeps, 'secretStoreFor' | 'webhookTargets'>) {
  return {
    /** FLIPPING: the pending value becomes the newest version of the stable path. */
    async promote(input: {
      rotationId: string;
      credential: CredentialRef;
      /** The pending version the canary proved; promote refuses any other. */
      expected: { version: string; fingerprint: Fingerprint };
    }): Promise<PromoteResult> {
      return deps.secretStoreFor(input.credential).promote(input.rotationId, input.expected);
    },

    /**
     * FLIPPING: tells the deploy system to roll the new secret version out (optional). The URL comes
     * from the policy, so it goes the ticket webhooks' way (guarded-post.ts): allowlisted host, checked
     * and pinned addresses, no redirect. Checked on every call: the allowlist may have changed since start.
     */
    async callRolloutHook(input: { rotationId: string; url: string; version: string }): Promise<number> {
      const target = admitTarget(input.url, deps.webhookTargets, hookRefused);
      const status = await postGuarded({
        target,
        headers: { 'content-type': 'application/json', 'idempotency-key': `${input.rotationId}:rollout` },
        body: JSON.stringify({ rotationId: input.rotationId, secretVersion: input.version }),
        timeoutMs: 10_000,
        refuse: hookRefused,
        redirected: (answered) => `answered ${answered}`,
      });
      if (status >= 500 || status === 429) throw new Error(`rollout hook answered ${status}`);
      if (status >= 400)
        throw nonRetryable(FailureTypes.RolloutHookRejected, `rollout hook answered ${status}`);
      return status;
    },

    /** VERIFYING_REVOCATION: disables the previous secret version after the negative test. */
    async retirePrevious(input: {
      rotationId: string;
      credential: CredentialRef;
    }): Promise<SecretVersionRef | undefined> {
      return deps.secretStoreFor(input.credential).retirePrevious(input.rotationId);
    },

    /** ROLLING_BACK after the flip: the old value becomes the newest version again; the new one is disabled. */
    async restoreOldSecret(input: {
      rotationId: string;
      credential: CredentialRef;
    }): Promise<RollbackResult> {
      return deps.secretStoreFor(input.credential).rollback(input.rotationId);
    },

    /** ROLLING_BACK before the flip: removes the pending secret. */
    async discardPending(input: { rotationId: string; credential: CredentialRef }): Promise<void> {
      await deps.secretStoreFor(input.credential).discardPending(input.rotationId);
    },
  };
}

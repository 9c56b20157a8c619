// The HashiCorp Vault (and OpenBao) KV v2 backend: one token source per worker (VAULT_TOKEN, or the
// Vault Agent sink VAULT_TOKEN_FILE), one client per address, namespace and mount, one store per
// credential location. The token is read when the session is made, so a missing one fails at start.
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../domain/failure-types';
import { storeLabel } from '../../../domain/secret-refs';
import {
  SILENT_LOGGER,
  type SecretBackend,
  type SecretBackendContext,
  type SecretBackendSession,
} from '../backend';
import { createKvClient, type KvClient } from './kv-client';
import {
  currentActivitySignal,
  KV_OPERATION_DEADLINE_MS,
  KV_REQUEST_TIMEOUT_MS,
  startKvOperation,
} from './kv-operation';
import { createKvSecretStore } from './kv-secret-store';
import { createKvStoreCore, type KvLocation } from './kv-store-core';
import { tokenSourceFrom } from './token-source';

/** Budgets of a session's requests and operations (defaults in kv-operation.ts). */
export interface HashicorpVaultSessionOptions {
  requestTimeoutMs?: number;
  deadlineMs?: number;
}

const KV_PATH = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/** A session over every KV v2 location the worker's credentials name. */
export function connectHashicorpVault(
  ctx: SecretBackendContext,
  opts: HashicorpVaultSessionOptions = {},
): SecretBackendSession<'hashicorp-vault'> {
  const token = tokenSourceFrom(ctx.env);
  const requestTimeoutMs = opts.requestTimeoutMs ?? KV_REQUEST_TIMEOUT_MS;
  const deadlineMs = opts.deadlineMs ?? KV_OPERATION_DEADLINE_MS;
  const clients = new Map<string, KvClient>();
  const clientFor = (l: KvLocation): KvClient => {
    const key = JSON.stringify([l.address, l.namespace ?? '', l.mount]);
    let client = clients.get(key);
    if (!client) {
      client = createKvClient({
        address: l.address,
        ...(l.namespace ? { namespace: l.namespace } : {}),
        mount: l.mount,
        store: storeLabel(l),
        token,
        requestTimeoutMs,
      });
      clients.set(key, client);
    }
    return client;
  };
  return {
    open: (location) =>
      createKvSecretStore({
        location,
        client: clientFor(location),
        deadlineMs,
        ...(ctx.logger ? { logger: ctx.logger } : {}),
      }),
    async readValue(location, name) {
      if (!KV_PATH.test(name))
        throw ApplicationFailure.create({
          type: FailureTypes.SecretNotFound,
          message: `${name} is not a KV v2 path below ${storeLabel(location)} (segments of letters, digits, ".", "_", "-")`,
          nonRetryable: true,
        });
      const core = createKvStoreCore({
        location,
        store: storeLabel(location),
        client: clientFor(location),
        log: ctx.logger ?? SILENT_LOGGER,
      });
      const cancellation = currentActivitySignal();
      const op = startKvOperation({ deadlineMs, ...(cancellation ? { cancellation } : {}) });
      return (await core.readOrFail(op, name, undefined, 'read the current version of')).value;
    },
  };
}

/** The `hashicorp-vault` entry of SECRET_STORES. */
export const hashicorpVaultBackend: SecretBackend<'hashicorp-vault'> = {
  kind: 'hashicorp-vault',
  connect: (ctx) => connectHashicorpVault(ctx),
};

// HTTP for admin adapters: JSON in and out, the admin key resolved per call (it lives in Key Vault,
// never in config), and errors mapped once: 401/403 non-retryable, 429/5xx retryable.
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../domain/failure-types';
import type { AdminRateLimiter } from './admin-rate';

export interface AdminHttpOptions {
  /** Base URL of the admin API (LiteLLM proxy root; OpenRouter's https://openrouter.ai/api/v1). */
  baseUrl: string;
  /** The admin (master / provisioning) key, resolved when needed. */
  adminKey: () => Promise<string>;
  /**
   * Called when the gateway refuses the admin key, so a cached key is dropped; the call is then tried
   * once more with a freshly resolved key (the admin key may just have been rotated).
   */
  adminKeyRejected?: () => void;
  timeoutMs?: number;
  /** The auth header a key goes in; `Authorization: Bearer` unless the gateway wants its own (Portkey). */
  authHeader?: (key: string) => Record<string, string>;
  /** Portkey: the workspace rekey's keys are created in (registry `gateway.portkey_workspace_id`). */
  portkeyWorkspaceId?: string;
  /** OpenAI Admin API: the project whose service-account keys rekey manages (`gateway.openai_project_id`). */
  openaiProjectId?: string;
  /** The worker's rate limit on admin calls, per gateway origin (REKEY_GATEWAY_ADMIN_CALLS_PER_SECOND). */
  rateLimiter?: AdminRateLimiter;
}

export interface AdminResponse<T> {
  status: number;
  body: T;
  /** The response headers (e.g. LiteLLM's `x-litellm-spend-logs-truncated`). */
  headers?: Headers;
}

const bearerHeader = (key: string) => ({ authorization: `Bearer ${key}` });

/** Masks anything shaped like an API key in text bound for an error message (and so for history). */
export function redactKeys(text: string): string {
  return text
    .replace(/\bsk-[A-Za-z0-9_-]{8,}/g, 'sk-[redacted]')
    .replace(/\b(?:Bearer\s+)?[A-Za-z0-9_-]{32,}\b/g, '[redacted]');
}

/** Calls an admin endpoint; 404 is returned to the caller, other 4xx/5xx throw. */
export async function adminCall<T>(
  opts: AdminHttpOptions,
  method: string,
  path: string,
  body?: unknown,
  auth?: string,
): Promise<AdminResponse<T>> {
  const url = `${opts.baseUrl.replace(/\/+$/, '')}${path}`;
  await opts.rateLimiter?.take(new URL(url).origin);
  const res = await fetch(url, {
    method,
    headers: {
      ...(opts.authHeader ?? bearerHeader)(auth ?? (await opts.adminKey())),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
  });
  const text = await res.text();
  let parsed: T | undefined;
  try {
    parsed = (text ? JSON.parse(text) : undefined) as T;
  } catch {
    // JSON.parse quotes the body in its message; say only what happened.
    if (res.ok)
      throw new Error(
        `${method} ${new URL(url).pathname} answered ${res.status} with a body that is not JSON`,
      );
  }
  if (res.ok || res.status === 404) return { status: res.status, body: parsed as T, headers: res.headers };
  const what = `${method} ${new URL(url).pathname} answered ${res.status}`;
  if (res.status === 401 || res.status === 403) {
    if (!auth && opts.adminKeyRejected) {
      opts.adminKeyRejected();
      return adminCall<T>({ ...opts, adminKeyRejected: undefined }, method, path, body);
    }
    throw ApplicationFailure.nonRetryable(
      `${what}: the admin key is not accepted`,
      FailureTypes.GatewayAdminForbidden,
    );
  }
  if (res.status === 429 || res.status >= 500) throw new Error(`${what}; will retry`);
  throw ApplicationFailure.nonRetryable(
    `${what}: ${redactKeys(text).slice(0, 300)}`,
    FailureTypes.GatewayAdminRejected,
  );
}

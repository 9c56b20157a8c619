// OpenAI Admin API, for provider keys held directly at OpenAI: each key rekey issues belongs to its own
// project service account named `rekey:<rotation id>` (POST /organization/projects/{id}/service_accounts
// returns the account's API key once, the only time its value is shown). Keys are listed, read and
// deleted under /organization/projects/{id}/api_keys, with an admin key as bearer. Listings show values
// redacted (`sk-abc...def`), so a key is found from its value only when one key's redaction matches.
// OpenAI cannot disable a key: revocation is the delete, and the service account rekey created for it
// goes with it.
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../domain/failure-types';
import type { GatewayAdmin } from '../../../domain/ports';
import type { KeyScope } from '../../../domain/activity-io';
import { adminCall, type AdminHttpOptions } from '../admin-http';
import { uniqueMaskMatch } from '../masked-key';

interface ServiceAccount {
  id: string;
  name: string;
}
interface ProjectApiKey {
  id: string;
  name: string;
  redacted_value: string;
  owner: { type?: 'user' | 'service_account'; service_account?: ServiceAccount };
}
interface Page<T> {
  data: T[];
  has_more: boolean;
  last_id?: string | null;
}

const tag = (rotationId: string) => `rekey:${rotationId}`;
// Project keys carry no per-key model or budget limits in the Admin API: the project holds them.
const PROJECT_SCOPE: KeyScope = { models: [] };

export function createOpenAiProjectAdmin(opts: AdminHttpOptions): GatewayAdmin {
  const project = opts.openaiProjectId;
  if (!project) throw new Error('openai-admin adapter: no project (registry gateway.openai_project_id)');
  const root = `/organization/projects/${encodeURIComponent(project)}`;
  /** Every item of a cursor-paged listing (`after` = the last id of the page before). */
  const all = async <T extends { id: string }>(path: string) => {
    const items: T[] = [];
    let after: string | undefined;
    for (let i = 0; i < 1000; i += 1) {
      const query = `?limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`;
      const res = await adminCall<Page<T>>(opts, 'GET', `${root}${path}${query}`);
      if (res.status === 404) {
        throw ApplicationFailure.nonRetryable(
          `OpenAI knows no project ${project} (registry gateway.openai_project_id)`,
          FailureTypes.GatewayAdminRejected,
        );
      }
      const page = res.body;
      items.push(...page.data);
      after = page.last_id ?? page.data.at(-1)?.id;
      if (!page.has_more || !after) break;
    }
    return items;
  };
  const keys = () => all<ProjectApiKey>('/api_keys');

  return {
    kind: 'openai-admin',

    async describeKey(value) {
      const key = uniqueMaskMatch(await keys(), (k) => k.redacted_value, value);
      return key ? { keyId: key.id, scope: PROJECT_SCOPE } : undefined;
    },

    async findIssued(rotationId) {
      const accounts = new Set(
        (await all<ServiceAccount>('/service_accounts'))
          .filter((a) => a.name === tag(rotationId))
          .map((a) => a.id),
      );
      if (accounts.size === 0) return undefined;
      const key = (await keys()).find((k) => accounts.has(k.owner.service_account?.id ?? ''));
      return key ? { keyId: key.id, scope: PROJECT_SCOPE } : undefined;
    },

    async createKey(rotationId) {
      const res = await adminCall<{ id: string; api_key: { id: string; value: string } | null }>(
        opts,
        'POST',
        `${root}/service_accounts`,
        { name: tag(rotationId) },
      );
      if (!res.body.api_key) throw new Error(`service account ${res.body.id} came back without an API key`);
      return { keyId: res.body.api_key.id, value: res.body.api_key.value };
    },

    canDisable: false,
    disableKey: (keyId) => Promise.reject(new Error(`OpenAI cannot disable ${keyId}; delete it instead`)),
    enableKey: (keyId) => Promise.reject(new Error(`OpenAI cannot re-enable ${keyId}`)),

    async deleteKey(keyId) {
      const path = `${root}/api_keys/${encodeURIComponent(keyId)}`;
      const found = await adminCall<ProjectApiKey>(opts, 'GET', path);
      if (found.status === 404) return 'already-gone';
      const res = await adminCall(opts, 'DELETE', path);
      // The account rekey made for this key has no other use; a key of a person or another account stays.
      const account = found.body.owner.service_account;
      if (account?.name.startsWith('rekey:'))
        await adminCall(opts, 'DELETE', `${root}/service_accounts/${encodeURIComponent(account.id)}`);
      return res.status === 404 ? 'already-gone' : 'deleted';
    },
  };
}

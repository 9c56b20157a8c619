// The first key of a stack credential, issued the way each gateway's admin API issues one, so that the
// adapter under test finds it by value (as it would find a key a person made) and can revoke it.
import type { AdminAdapterKind } from '../../domain/activity-io';

/** The OpenAI project and Portkey workspace of the rotation stack's gateway. */
export const STACK_OPENAI_PROJECT = 'proj_rekeystack';
/** The stack's owner (policy `owner`): its Portkey workspace, OpenAI project name and OpenRouter account. */
export const STACK_OWNER = 'platform-ai';
export const STACK_PORTKEY_WORKSPACE = STACK_OWNER;

/** Where each adapter's admin API sits on the reference gateway (the registry's `admin_base_url`). */
export function adminBaseUrl(gatewayBase: string, adapter: AdminAdapterKind): string {
  if (adapter === 'openrouter') return `${gatewayBase}/api/v1`;
  if (adapter === 'portkey' || adapter === 'openai-admin') return `${gatewayBase}/v1`;
  return gatewayBase;
}

/** The adapter-specific registry fields of the stack's gateway entry. */
export function adapterRegistryFields(adapter: AdminAdapterKind): Record<string, string> {
  if (adapter === 'portkey') return { portkey_workspace_id: STACK_PORTKEY_WORKSPACE };
  if (adapter === 'openai-admin') return { openai_project_id: STACK_OPENAI_PROJECT };
  return {};
}

async function post(url: string, headers: Record<string, string>, body: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${new URL(url).pathname} answered ${res.status}`);
  return res.json();
}

/**
 * Issues an app's key through the admin API of an OpenRouter, Portkey or OpenAI gateway; undefined for
 * the kinds whose keys the stack makes with LiteLLM's /key/generate.
 */
export async function issueAppKey(
  gatewayBase: string,
  adminKey: string,
  adapter: AdminAdapterKind,
  name: string,
): Promise<string | undefined> {
  const root = adminBaseUrl(gatewayBase, adapter);
  switch (adapter) {
    case 'openrouter':
      return (
        (await post(`${root}/keys`, { authorization: `Bearer ${adminKey}` }, { name })) as { key: string }
      ).key;
    case 'portkey':
      return (
        (await post(
          `${root}/api-keys/workspace/service`,
          { 'x-portkey-api-key': adminKey },
          { name, workspace_id: STACK_PORTKEY_WORKSPACE, scopes: ['completions.write'] },
        )) as { key: string }
      ).key;
    case 'openai-admin':
      return (
        (await post(
          `${root}/organization/projects/${STACK_OPENAI_PROJECT}/service_accounts`,
          { authorization: `Bearer ${adminKey}` },
          { name },
        )) as { api_key: { value: string } }
      ).api_key.value;
    default:
      return undefined;
  }
}

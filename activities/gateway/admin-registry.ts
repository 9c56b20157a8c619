// One registry of admin adapters: a Record over every AdminAdapterKind, so a new kind cannot be
// half-registered (the compiler asks for its factory).
import type { GatewayAdmin } from '../../domain/ports';
import type { AdminAdapterKind } from '../../domain/activity-io';
import type { AdminHttpOptions } from './admin-http';
import { createLiteLlmAdmin } from './litellm';
import { createManualAdmin } from './manual';
import { createOpenAiProjectAdmin } from './openai-admin';
import { createOpenRouterAdmin } from './openrouter';
import { createPortkeyAdmin } from './portkey';

export const ADMIN_ADAPTERS: Record<AdminAdapterKind, (opts: AdminHttpOptions) => GatewayAdmin> = {
  manual: () => createManualAdmin(),
  litellm: createLiteLlmAdmin,
  openrouter: createOpenRouterAdmin,
  portkey: createPortkeyAdmin,
  'openai-admin': createOpenAiProjectAdmin,
};

/**
 * Disables, then deletes a key: the disable takes effect at once where deletes propagate slowly. Where
 * the gateway cannot disable (Portkey, OpenAI), the delete alone.
 */
export async function revokeKey(admin: GatewayAdmin, keyId: string): Promise<'revoked' | 'already-gone'> {
  const disabled = admin.canDisable ? await admin.disableKey(keyId) : 'already-gone';
  const deleted = await admin.deleteKey(keyId);
  return disabled === 'already-gone' && deleted === 'already-gone' ? 'already-gone' : 'revoked';
}

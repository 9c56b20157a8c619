// Bundle section `gateway`: both keys at the gateway, the canary, the usage attribution, production
// traffic during the hold, and what the gateway's API cannot show.
import type { RotationStatus } from '../../../domain/status';
import type { EvidenceBundle } from '../../../domain/evidence/bundle-schema';
import { canaryRequest } from './canary-request';
import { keyScopeOf } from './key-scope';
import type { EvidenceContext } from './context';

type Section = EvidenceBundle['gateway'];

/** The gateway's side of the rotation; the registry wins over the input for the base URL. */
export function gatewayOf(status: RotationStatus, { input, credential }: EvidenceContext): Section {
  const canaryCheck = status.checks.filter((c) => c.name === 'canary').at(-1);
  return {
    baseUrl: credential?.gatewayBaseUrl ?? input?.gatewayBaseUrl ?? null,
    adminAdapter: credential?.adminAdapter ?? null,
    oldKey: { gatewayKeyId: status.gatewayKeys.old ?? null, fingerprint: status.fingerprints.old ?? null },
    newKey: { gatewayKeyId: status.gatewayKeys.new ?? null, fingerprint: status.fingerprints.new ?? null },
    canary: {
      ran: canaryCheck !== undefined || status.canary.length > 0,
      passed: canaryCheck?.passed ?? null,
      requests: status.canary.map(canaryRequest),
    },
    attribution: attributionOf(status, input?.expectedOwner),
    ...withKeyScope(keyScopeOf(status)),
    production: {
      newKeyRequests: status.hold?.totals.newKeyRequests ?? null,
      oldKeyRequests: status.hold?.totals.oldKeyRequests ?? null,
      oldKeyZeroSince: status.hold?.oldKeyZeroSince ?? null,
    },
    limitations: [
      'route group: the OpenAI-compatible API does not say which gateway route group served a request',
      'per-request owner and cost: not in the API response; owner is checked per key (attribution), spend per window (post-change review)',
      ...(credential?.adminAdapter === 'manual'
        ? ['manual gateway: no admin API, so rekey knows neither the keys’ gateway ids nor their scope']
        : []),
    ],
  };
}

const withKeyScope = (k: ReturnType<typeof keyScopeOf>) => (k ? { keyScope: k } : {});

/** The canary's attribution check, or an unchecked one naming the owner the ticket expected. */
function attributionOf(status: RotationStatus, expectedOwner: string | undefined): Section['attribution'] {
  const a = status.attribution;
  if (!a) {
    return {
      checked: false,
      verdict: null,
      passed: null,
      owner: null,
      team: null,
      expectedOwner: expectedOwner ?? null,
      anomalies: [],
    };
  }
  return {
    checked: true,
    verdict: a.verdict,
    passed: a.passed,
    owner: a.owner ?? null,
    team: a.team ?? null,
    expectedOwner: a.expectedOwner,
    anomalies: a.anomalies,
  };
}

export { ADMIN_ADAPTERS, revokeKey } from './admin-registry';
export type { AdminHttpOptions } from './admin-http';
export { issueReplacementKey, type IssueResult } from './issue-key';
export { runNegativeTest, type NegativeTestOptions } from './negative-test';
export { createOpenAiProbe, DEFAULT_PROBE_OPTIONS, reasonFor, type ProbeOptions } from './openai-probe';
export { scopeBroadening } from './scope';

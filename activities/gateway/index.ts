export { createOpenAiProbe, DEFAULT_PROBE_OPTIONS, reasonFor, type ProbeOptions } from './openai-probe';
export { runNegativeTest, type NegativeTestOptions } from './negative-test';

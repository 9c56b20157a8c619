export { createLiteLlmSpendLogTelemetry } from './litellm-spend-logs';
export { ALL_CONSUMERS, createOpenRouterUsageTelemetry, UNKNOWN_FIRST_READING } from './openrouter-key-usage';

export { createLiteLlmSpendLogTelemetry } from './litellm-spend-logs';

export {
  createPrometheusTelemetry,
  LITELLM_QUERIES,
  type PrometheusTelemetryOptions,
  type QueryTemplates,
} from './prometheus-telemetry';

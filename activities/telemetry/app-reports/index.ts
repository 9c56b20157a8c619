export {
  coverageGaps,
  createAppReportsTelemetry,
  type AppReportsTelemetryOptions,
  type Gap,
} from './app-reports-telemetry';
export { createAppReportStore } from './report-store';

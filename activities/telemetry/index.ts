export * from './app-reports';
export * from './capabilities';
export * from './gateway-usage';
export * from './prometheus';
export { isLagging, TelemetryLagging } from './lag';

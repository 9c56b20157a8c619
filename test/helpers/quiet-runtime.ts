// Jest setup file: the Temporal SDK logs every worker state change at INFO, and core warns that the
// time-skipping test server lacks a newer server capability; tests only need errors from core.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({
  logger: new DefaultLogger('WARN'),
  telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
});

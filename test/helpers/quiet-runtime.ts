// Jest setup file: the Temporal SDK logs every worker state change at INFO; tests only need warnings.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });

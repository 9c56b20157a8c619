// What the secret-store tests use to prove no key value leaves a store: every key value a test makes,
// every result, log line and error the store gave back, checked against each other at the end.
import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { SecretStoreLogger } from '../../activities/secrets/backend';

export interface LeakWatch {
  /** Every key value the test made. */
  keys: string[];
  /** Every result and error the store returned, serialized. */
  observed: string[];
  /** Every line the store logged (JSON of the fields, level and message). */
  logLines: string[];
  logger: SecretStoreLogger;
  /** A fresh key value, `<prefix>-<purpose>-<random>`, remembered. */
  newKey: (purpose: string) => string;
  /** Records a result and returns it. */
  seen: <T>(result: T) => T;
  /** The ApplicationFailure (or CancelledFailure) a call rejects with, recorded (message, stack, JSON). */
  failure: (p: Promise<unknown>) => Promise<ApplicationFailure>;
}

export function leakWatch(prefix: string, keys: string[] = [], observed: string[] = []): LeakWatch {
  const logLines: string[] = [];
  return {
    keys,
    observed,
    logLines,
    logger: {
      info: (fields, msg) => void logLines.push(JSON.stringify({ level: 'info', msg, ...fields })),
      warn: (fields, msg) => void logLines.push(JSON.stringify({ level: 'warn', msg, ...fields })),
    },
    newKey: (purpose) => {
      const key = `${prefix}-${purpose}-${randomBytes(18).toString('base64url')}`;
      keys.push(key);
      return key;
    },
    seen: (result) => {
      observed.push(JSON.stringify(result) ?? 'undefined');
      return result;
    },
    failure: async (p) => {
      try {
        await p;
      } catch (err) {
        observed.push(String(err), (err as Error).stack ?? '', JSON.stringify(err));
        if (!(err instanceof ApplicationFailure)) throw err;
        return err;
      }
      throw new Error('expected a failure');
    },
  };
}

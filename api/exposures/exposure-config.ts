// The exposure endpoints' deps from settings: each scanner's verification material read from its file
// at start (a missing or bad file fails the start, naming the variable), the record store's directory.
import { readFileSync } from 'node:fs';
import { createExposureRecordStore } from './record-store';
import type { ExposureDeps } from './exposure-deps';
import { parseGithubPublicKeys } from './signatures';

export interface ExposureSettings {
  REKEY_EXPOSURES_DIR: string;
  REKEY_GITHUB_WEBHOOK_SECRET_FILE?: string | undefined;
  REKEY_GITHUB_SECRET_SCANNING_KEYS_FILE?: string | undefined;
  REKEY_GITGUARDIAN_SIGNATURE_TOKEN_FILE?: string | undefined;
  REKEY_GITGUARDIAN_TOLERANCE_SECONDS: number;
}

/** A secret file's text, trimmed; a missing or empty file fails the start, naming the variable. */
export function readSecretFile(variable: string, file: string): string {
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (!text) throw new Error('the file is empty');
    return text;
  } catch (err) {
    throw new Error(`${variable}: cannot read ${file} (${(err as Error).message})`, { cause: err });
  }
}

/** ExposureDeps as the settings describe them. */
export function exposureDepsFrom(s: ExposureSettings): ExposureDeps {
  return {
    records: createExposureRecordStore(s.REKEY_EXPOSURES_DIR),
    gitguardianToleranceSeconds: s.REKEY_GITGUARDIAN_TOLERANCE_SECONDS,
    ...(s.REKEY_GITHUB_WEBHOOK_SECRET_FILE
      ? {
          githubWebhookSecret: readSecretFile(
            'REKEY_GITHUB_WEBHOOK_SECRET_FILE',
            s.REKEY_GITHUB_WEBHOOK_SECRET_FILE,
          ),
        }
      : {}),
    ...(s.REKEY_GITHUB_SECRET_SCANNING_KEYS_FILE
      ? {
          githubPublicKeys: parseGithubPublicKeys(
            readSecretFile(
              'REKEY_GITHUB_SECRET_SCANNING_KEYS_FILE',
              s.REKEY_GITHUB_SECRET_SCANNING_KEYS_FILE,
            ),
          ),
        }
      : {}),
    ...(s.REKEY_GITGUARDIAN_SIGNATURE_TOKEN_FILE
      ? {
          gitguardianToken: readSecretFile(
            'REKEY_GITGUARDIAN_SIGNATURE_TOKEN_FILE',
            s.REKEY_GITGUARDIAN_SIGNATURE_TOKEN_FILE,
          ),
        }
      : {}),
  };
}

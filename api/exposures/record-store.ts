// Exposure records on the filesystem (REKEY_EXPOSURES_DIR): one JSON file per source and alert id,
// created exclusively, so the first record of an alert is the one kept, across retries and processes.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExposureSource } from '../../domain/exposures';
import {
  exposureRecordSchema,
  type ExposureRecord,
  type ExposureRecordStore,
} from '../../domain/exposure-records';

/** The file name of an alert id: URL-encoded, so any id maps to one safe name and back. */
const fileName = (alertId: string) => `${encodeURIComponent(alertId).replace(/\./g, '%2E')}.json`;

/** A store of exposure records under dir/<source>/. */
export function createExposureRecordStore(dir: string): ExposureRecordStore {
  const fileOf = (source: ExposureSource, alertId: string) => path.join(dir, source, fileName(alertId));

  async function readRecord(file: string): Promise<ExposureRecord | undefined> {
    try {
      const parsed = exposureRecordSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  return {
    get: (source, alertId) => readRecord(fileOf(source, alertId)),
    async putIfAbsent(record) {
      const file = fileOf(record.source, record.alertId);
      await mkdir(path.dirname(file), { recursive: true });
      try {
        await writeFile(file, JSON.stringify(exposureRecordSchema.parse(record)), { flag: 'wx' });
        return { stored: true, record };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        return { stored: false, record: (await readRecord(file)) ?? record };
      }
    },
    async list(limit) {
      const records: ExposureRecord[] = [];
      const sources = await readdir(dir).catch(() => [] as string[]);
      for (const source of sources) {
        const files = await readdir(path.join(dir, source)).catch(() => [] as string[]);
        for (const f of files.filter((n) => n.endsWith('.json'))) {
          const r = await readRecord(path.join(dir, source, f));
          if (r) records.push(r);
        }
      }
      return records.sort((a, b) => b.receivedAt.localeCompare(a.receivedAt)).slice(0, limit);
    },
  };
}

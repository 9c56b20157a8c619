// `rekey status`: the replacement key's scope against the old key's, one line per difference.
import type { KeyScopeCheck } from '../domain/key-scope';

/** The block, or '' when the rotation compared no scope (manual gateways, workers older than the check). */
export function keyScopeBlock(
  check: KeyScopeCheck | undefined,
  table: (headers: string[], rows: string[][]) => string,
): string {
  if (!check) return '';
  const head = `\nkey scope (${check.verdict})\n`;
  if (check.diff.length === 0)
    return `${head}  every field of the old key read back unchanged on the new key`;
  const rows = check.diff.map((d) => [d.field, d.kind, d.old, d.issued]);
  return (
    head +
    table(['FIELD', 'RESULT', 'OLD KEY', 'NEW KEY'], rows)
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n')
  );
}

// Paged lists as the service pages them: at most `maxresults` (1–25, default 25) items per page and a
// `nextLink` carrying an opaque `$skiptoken`, the api-version and the page size; null on the last page.
import { KeyVaultError } from './errors';

const MAX_PAGE = 25;

/** Query parameters of a list request. */
export interface PageQuery {
  'api-version'?: string;
  maxresults?: string;
  $skiptoken?: string;
}

/** One page of `items` and the link to the next, resolved against `link` (the list's absolute URL). */
export function page<T>(items: T[], query: PageQuery, link: string): { value: T[]; nextLink: string | null } {
  const size = pageSize(query.maxresults);
  const offset = query.$skiptoken ? decodeSkipToken(query.$skiptoken) : 0;
  const value = items.slice(offset, offset + size);
  if (offset + size >= items.length) return { value, nextLink: null };
  const next = new URL(link);
  next.searchParams.set('api-version', query['api-version'] ?? '');
  next.searchParams.set(
    '$skiptoken',
    Buffer.from(JSON.stringify({ o: offset + size })).toString('base64url'),
  );
  next.searchParams.set('maxresults', String(size));
  return { value, nextLink: next.toString() };
}

function pageSize(raw: string | undefined): number {
  if (raw === undefined || raw === '') return MAX_PAGE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE)
    throw new KeyVaultError(400, 'BadParameter', `maxresults must be an integer from 1 to ${MAX_PAGE}.`);
  return n;
}

function decodeSkipToken(token: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown };
    if (typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0) return parsed.o;
  } catch {
    // fall through: the service answers a bad token with BadParameter too
  }
  throw new KeyVaultError(400, 'BadParameter', 'The $skiptoken is not valid.');
}

// The RFC 9457 problem body every error answer has, as a zod schema (a component of the OpenAPI
// document). A leaf module, like deps.ts: the swagger plugin and any route may import it.
import { STATUS_CODES } from 'node:http';
import { z } from 'zod';

/** The RFC 9457 body of every error answer; a component of the OpenAPI document. */
export const problemSchema = z
  .object({
    type: z.string().describe('problem type URI; `about:blank` when the status says it all'),
    title: z.string().describe('short summary of the problem type'),
    status: z.number().int().describe('the HTTP status code'),
    detail: z.string().describe('what went wrong with this request'),
    instance: z.string().describe('the request path'),
    requestId: z.string().describe('the X-Request-Id of this request; quote it when reporting a problem'),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('each invalid field of a 400'),
  })
  .loose()
  .meta({ id: 'Problem', description: 'RFC 9457 problem details; some problems add fields' });

/** An OpenAPI response whose body is a problem. */
export const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problemSchema } },
});

/** Titles in rekey's sentence case where Node's reason phrase would read differently. */
const TITLES: Record<number, string> = { 413: 'Content too large', 414: 'URI too long' };
/** A 414's path can be kilobytes long: echoing all of it back helps nobody. */
const MAX_INSTANCE_LENGTH = 1024;

/** The problem title of a status: rekey's own, else Node's reason phrase in sentence case. */
export function statusTitle(status: number): string {
  const phrase = STATUS_CODES[status] ?? 'Error';
  return TITLES[status] ?? phrase.charAt(0) + phrase.slice(1).toLowerCase();
}

/** A problem body; `instance` is the path only: a query string may carry what should not be echoed. */
export function problemBody(
  status: number,
  title: string,
  detail: string,
  url: string,
  requestId: string,
): z.infer<typeof problemSchema> {
  const instance = (url.split('?')[0] ?? '').slice(0, MAX_INSTANCE_LENGTH);
  return { type: 'about:blank', title, status, detail, instance, requestId };
}

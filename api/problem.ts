// The RFC 9457 problem body every error answer has, as a zod schema (a component of the OpenAPI
// document). A leaf module, like deps.ts: the swagger plugin and any route may import it.
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

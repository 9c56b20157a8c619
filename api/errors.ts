// Typed errors for the API, mapped to RFC 9457 problem+json in exactly one place (plugins/errors.ts).

/** An error the API answers with its own status and a problem type. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
    /** Response headers the answer needs (Allow on a 405, Retry-After on a 503). */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export const InputError = (detail: string, extra: Record<string, unknown> = {}) =>
  new HttpProblem(400, 'Bad request', detail, extra);
export const Unauthenticated = (detail = 'a valid bearer token is required') =>
  new HttpProblem(401, 'Unauthenticated', detail);
export const NotAllowed = (detail: string) => new HttpProblem(403, 'Forbidden', detail);
export const NotFound = (detail: string) => new HttpProblem(404, 'Not found', detail);
export const Conflict = (detail: string, extra: Record<string, unknown> = {}) =>
  new HttpProblem(409, 'Conflict', detail, extra);
export const Unprocessable = (detail: string, extra: Record<string, unknown> = {}) =>
  new HttpProblem(422, 'Unprocessable', detail, extra);
/** A known path asked with a method it does not answer; `allow` lists those it does. */
export const MethodNotAllowed = (method: string, path: string, allow: readonly string[]) => {
  const methods = allow.join(', ');
  const detail = `${path} does not answer ${method}; it answers ${methods}`;
  return new HttpProblem(405, 'Method not allowed', detail, {}, { allow: methods });
};
/** Temporal (or another dependency) cannot answer now; the client may retry after the given seconds. */
export const ServiceUnavailable = (detail: string, retryAfterSeconds: number) =>
  new HttpProblem(503, 'Service unavailable', detail, {}, { 'retry-after': String(retryAfterSeconds) });
export const TooManyRequests = (detail: string) => new HttpProblem(429, 'Too many requests', detail);

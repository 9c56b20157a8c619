// Rotation ids are `environment:credential:ticket`; every route that takes one parses it here, and the
// bounds of the `:id` param (Fastify's maxParamLength, the zod schema) come from the id rule itself.
import { z } from 'zod';
import { IDENTIFIER, IDENTIFIER_MAX_LENGTH, ROTATION_ID_MAX_LENGTH } from '../../domain/policy';
import { NotFound } from '../errors';

/**
 * Fastify's maxParamLength: the longest valid id. find-my-way measures the decoded param, so an id whose
 * colons a client percent-encodes (`%3A`) fits as well; anything longer is a 414.
 */
export const MAX_PARAM_LENGTH = ROTATION_ID_MAX_LENGTH;

/** The `:id` param of every route that takes a rotation id. */
export const rotationIdParams = z.object({
  id: z.string().max(ROTATION_ID_MAX_LENGTH).describe('rotation id: environment:credential:ticket'),
});

/** Splits a rotation id into its parts; an id that cannot exist is a 404, not a 400. */
export function parseRotationId(id: string) {
  const [environment, credential, ticket, ...rest] = id.split(':');
  if (
    !environment ||
    !credential ||
    !ticket ||
    rest.length ||
    ![environment, credential, ticket].every((p) => p.length <= IDENTIFIER_MAX_LENGTH && IDENTIFIER.test(p))
  ) {
    throw NotFound(`no rotation ${id}: ids look like environment:credential:ticket`);
  }
  return { environment, credential, ticket };
}

// Rotation ids are `environment:credential:ticket`; every route that takes one parses it here.
import { IDENTIFIER } from '../../domain/policy';
import { NotFound } from '../errors';

/** Splits a rotation id into its parts; an id that cannot exist is a 404, not a 400. */
export function parseRotationId(id: string) {
  const [environment, credential, ticket, ...rest] = id.split(':');
  if (
    !environment ||
    !credential ||
    !ticket ||
    rest.length ||
    ![environment, credential, ticket].every((p) => IDENTIFIER.test(p))
  ) {
    throw NotFound(`no rotation ${id}: ids look like environment:credential:ticket`);
  }
  return { environment, credential, ticket };
}

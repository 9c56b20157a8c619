import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { toolPath } from '../../scripts/local-stack';
import { REKEY_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

/**
 * A time-skipping test environment on the test server scripts/bootstrap.sh installed (no download),
 * with rekey's search attributes registered as the dev server and a production cluster have them.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: toolPath('temporal-test-server') } },
  });
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      REKEY_SEARCH_ATTRIBUTES.map((k) => [
        k.name,
        temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      ]),
    ),
  });
  return env;
}

/**
 * A local Temporal dev server (the real server, on SQLite) from the CLI scripts/bootstrap.sh installed,
 * with rekey's search attributes: for workflow tests that must run in real time on real server
 * semantics, e.g. continue-as-new racing messages.
 */
export async function createDevServerEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: toolPath('temporal') },
      ui: false,
      searchAttributes: [...REKEY_SEARCH_ATTRIBUTES],
    },
  });
}

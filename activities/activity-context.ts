import { Context } from '@temporalio/activity';

/** The running Temporal activity's context, or undefined outside one (the API's hand-off, tests, scripts). */
export function currentActivity(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

// What the API test's worker runs: the real rotation, which stays in PREPARING because no activity is
// polled (so only its validators answer), and the message recorder.
export { rotation } from '../../../workflows';
export { messageRecorder } from './message-recorder';

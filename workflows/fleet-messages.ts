// The fleet workflow's messages (workflows/fleet.ts), defined apart from its code so that the API
// imports these definitions and nothing else of the workflow at run time.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { FleetApprovalRecord, FleetStatus } from '../domain/fleet';

export const fleetStatusQuery = defineQuery<FleetStatus>('fleetStatus');
export const fleetApprovalRecorded = defineSignal<[FleetApprovalRecord]>('fleetApprovalRecorded');

// The DICOM upper layer state machine as the standard writes it: PS3.8 Table 9-10 (which
// action each event triggers in each state) and sections 9.2.2 (what each action does).
// Pure data; `machine.ts` looks things up, the association carries out the effects.

export const STATES = {
  Sta1: 'Idle',
  Sta2: 'Transport connection open (awaiting A-ASSOCIATE-RQ PDU)',
  Sta3: 'Awaiting local A-ASSOCIATE response primitive',
  Sta4: 'Awaiting transport connection opening to complete',
  Sta5: 'Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU',
  Sta6: 'Association established and ready for data transfer',
  Sta7: 'Awaiting A-RELEASE-RP PDU',
  Sta8: 'Awaiting local A-RELEASE response primitive',
  Sta9: 'Release collision requestor side; awaiting A-RELEASE response primitive',
  Sta10: 'Release collision acceptor side; awaiting A-RELEASE-RP PDU',
  Sta11: 'Release collision requestor side; awaiting A-RELEASE-RP PDU',
  Sta12: 'Release collision acceptor side; awaiting A-RELEASE response primitive',
  Sta13: 'Awaiting transport connection close indication',
} as const;
export type State = keyof typeof STATES;

export const EVENTS = {
  Evt1: 'A-ASSOCIATE request (local user)',
  Evt2: 'Transport connect confirmation (local transport service)',
  Evt3: 'A-ASSOCIATE-AC PDU received',
  Evt4: 'A-ASSOCIATE-RJ PDU received',
  Evt5: 'Transport connection indication (local transport service)',
  Evt6: 'A-ASSOCIATE-RQ PDU received',
  Evt7: 'A-ASSOCIATE response primitive (accept)',
  Evt8: 'A-ASSOCIATE response primitive (reject)',
  Evt9: 'P-DATA request primitive',
  Evt10: 'P-DATA-TF PDU received',
  Evt11: 'A-RELEASE request primitive',
  Evt12: 'A-RELEASE-RQ PDU received',
  Evt13: 'A-RELEASE-RP PDU received',
  Evt14: 'A-RELEASE response primitive',
  Evt15: 'A-ABORT request primitive',
  Evt16: 'A-ABORT PDU received',
  Evt17: 'Transport connection closed indication',
  Evt18: 'ARTIM timer expired',
  Evt19: 'Unrecognized or invalid PDU received',
} as const;
export type Event = keyof typeof EVENTS;

/** What carrying out an action means for the association (the side effects, in order). */
export type Effect =
  | 'connect-transport'
  | 'send-associate-rq'
  | 'send-associate-ac'
  | 'send-associate-rj'
  | 'send-pdata'
  | 'send-release-rq'
  | 'send-release-rp'
  | 'send-abort' // A-ABORT PDU, source service-user (AA-1) or as given by the request (AA-7)
  | 'send-abort-provider' // A-ABORT PDU, source service-provider (AA-8)
  | 'indicate-associate' // A-ASSOCIATE indication to the local user (acceptor)
  | 'confirm-associate-accept'
  | 'confirm-associate-reject'
  | 'indicate-pdata'
  | 'indicate-release'
  | 'confirm-release'
  | 'indicate-abort' // A-ABORT or A-P-ABORT indication, per the PDU's source (AA-3)
  | 'indicate-p-abort'
  | 'start-artim'
  | 'stop-artim'
  | 'close-transport';

/** Where an action leads: one state, or one of two by a condition the standard names. */
export type Next =
  | State
  | { if: 'acceptable'; then: State; else: State } // AE-6: A-ASSOCIATE-RQ acceptable by the service provider
  | { if: 'requestor'; then: State; else: State }; // AR-8: this side requested the association

export interface ActionDef {
  readonly description: string;
  readonly effects: readonly Effect[];
  readonly next: Next;
  /** Effects for the 'else' branch of a conditional action (AE-6). */
  readonly elseEffects?: readonly Effect[];
}

export const ACTIONS = {
  'AE-1': { description: 'Issue TRANSPORT CONNECT request primitive to local transport service', effects: ['connect-transport'], next: 'Sta4' },
  'AE-2': { description: 'Send A-ASSOCIATE-RQ PDU', effects: ['send-associate-rq'], next: 'Sta5' },
  'AE-3': { description: 'Issue A-ASSOCIATE confirmation (accept) primitive', effects: ['confirm-associate-accept'], next: 'Sta6' },
  'AE-4': { description: 'Issue A-ASSOCIATE confirmation (reject) primitive and close transport connection', effects: ['confirm-associate-reject', 'close-transport'], next: 'Sta1' },
  'AE-5': { description: 'Issue Transport connection response primitive; start ARTIM timer', effects: ['start-artim'], next: 'Sta2' },
  'AE-6': {
    description: 'Stop ARTIM timer and if A-ASSOCIATE-RQ acceptable by service-provider: issue A-ASSOCIATE indication primitive; otherwise issue A-ASSOCIATE-RJ-PDU and start ARTIM timer',
    effects: ['stop-artim', 'indicate-associate'],
    elseEffects: ['stop-artim', 'send-associate-rj', 'start-artim'],
    next: { if: 'acceptable', then: 'Sta3', else: 'Sta13' },
  },
  'AE-7': { description: 'Send A-ASSOCIATE-AC PDU', effects: ['send-associate-ac'], next: 'Sta6' },
  'AE-8': { description: 'Send A-ASSOCIATE-RJ PDU and start ARTIM timer', effects: ['send-associate-rj', 'start-artim'], next: 'Sta13' },
  'DT-1': { description: 'Send P-DATA-TF PDU', effects: ['send-pdata'], next: 'Sta6' },
  'DT-2': { description: 'Send P-DATA indication primitive', effects: ['indicate-pdata'], next: 'Sta6' },
  'AR-1': { description: 'Send A-RELEASE-RQ PDU', effects: ['send-release-rq'], next: 'Sta7' },
  'AR-2': { description: 'Issue A-RELEASE indication primitive', effects: ['indicate-release'], next: 'Sta8' },
  'AR-3': { description: 'Issue A-RELEASE confirmation primitive, and close transport connection', effects: ['confirm-release', 'close-transport'], next: 'Sta1' },
  'AR-4': { description: 'Issue A-RELEASE-RP PDU and start ARTIM timer', effects: ['send-release-rp', 'start-artim'], next: 'Sta13' },
  'AR-5': { description: 'Stop ARTIM timer', effects: ['stop-artim'], next: 'Sta1' },
  'AR-6': { description: 'Issue P-DATA indication', effects: ['indicate-pdata'], next: 'Sta7' },
  'AR-7': { description: 'Issue P-DATA-TF PDU', effects: ['send-pdata'], next: 'Sta8' },
  'AR-8': { description: 'Issue A-RELEASE indication (release collision)', effects: ['indicate-release'], next: { if: 'requestor', then: 'Sta9', else: 'Sta10' } },
  'AR-9': { description: 'Send A-RELEASE-RP PDU', effects: ['send-release-rp'], next: 'Sta11' },
  'AR-10': { description: 'Issue A-RELEASE confirmation primitive', effects: ['confirm-release'], next: 'Sta12' },
  'AA-1': { description: 'Send A-ABORT PDU (service-user source) and start (or restart if already started) ARTIM timer', effects: ['send-abort', 'start-artim'], next: 'Sta13' },
  'AA-2': { description: 'Stop ARTIM timer if running. Close transport connection', effects: ['stop-artim', 'close-transport'], next: 'Sta1' },
  'AA-3': { description: 'Issue A-ABORT (or A-P-ABORT) indication and close transport connection', effects: ['indicate-abort', 'close-transport'], next: 'Sta1' },
  'AA-4': { description: 'Issue A-P-ABORT indication primitive', effects: ['indicate-p-abort'], next: 'Sta1' },
  'AA-5': { description: 'Stop ARTIM timer', effects: ['stop-artim'], next: 'Sta1' },
  'AA-6': { description: 'Ignore PDU', effects: [], next: 'Sta13' },
  'AA-7': { description: 'Send A-ABORT PDU', effects: ['send-abort'], next: 'Sta13' },
  'AA-8': { description: 'Send A-ABORT PDU (service-provider source), issue an A-P-ABORT indication, and start ARTIM timer', effects: ['send-abort-provider', 'indicate-p-abort', 'start-artim'], next: 'Sta13' },
} as const satisfies Record<string, ActionDef>;
export type ActionName = keyof typeof ACTIONS;

const S = ['Sta1', 'Sta2', 'Sta3', 'Sta4', 'Sta5', 'Sta6', 'Sta7', 'Sta8', 'Sta9', 'Sta10', 'Sta11', 'Sta12', 'Sta13'] as const;
/** Builds one row of Table 9-10 from the states 1..13 in order; null = no transition defined. */
const row = (...cells: (ActionName | null)[]): Partial<Record<State, ActionName>> => {
  const r: Partial<Record<State, ActionName>> = {};
  cells.forEach((a, i) => {
    if (a) r[S[i]!] = a;
  });
  return r;
};
const _ = null;

/** PS3.8 Table 9-10, row by row; columns are Sta1 .. Sta13. */
export const TRANSITIONS: Readonly<Record<Event, Partial<Record<State, ActionName>>>> = {
  //          Sta1    Sta2    Sta3    Sta4    Sta5    Sta6    Sta7    Sta8    Sta9    Sta10    Sta11   Sta12   Sta13
  Evt1: row('AE-1', _, _, _, _, _, _, _, _, _, _, _, _),
  Evt2: row(_, _, _, 'AE-2', _, _, _, _, _, _, _, _, _),
  Evt3: row(_, 'AA-1', 'AA-8', _, 'AE-3', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-6'),
  Evt4: row(_, 'AA-1', 'AA-8', _, 'AE-4', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-6'),
  Evt5: row('AE-5', _, _, _, _, _, _, _, _, _, _, _, _),
  Evt6: row(_, 'AE-6', 'AA-8', _, 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-7'),
  Evt7: row(_, _, 'AE-7', _, _, _, _, _, _, _, _, _, _),
  Evt8: row(_, _, 'AE-8', _, _, _, _, _, _, _, _, _, _),
  Evt9: row(_, _, _, _, _, 'DT-1', _, 'AR-7', _, _, _, _, _),
  Evt10: row(_, 'AA-1', 'AA-8', _, 'AA-8', 'DT-2', 'AR-6', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-6'),
  Evt11: row(_, _, _, _, _, 'AR-1', _, _, _, _, _, _, _),
  Evt12: row(_, 'AA-1', 'AA-8', _, 'AA-8', 'AR-2', 'AR-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-6'),
  Evt13: row(_, 'AA-1', 'AA-8', _, 'AA-8', 'AA-8', 'AR-3', 'AA-8', 'AA-8', 'AR-10', 'AR-3', 'AA-8', 'AA-6'),
  Evt14: row(_, _, _, _, _, _, _, 'AR-4', 'AR-9', _, _, 'AR-4', _),
  Evt15: row(_, _, 'AA-1', 'AA-2', 'AA-1', 'AA-1', 'AA-1', 'AA-1', 'AA-1', 'AA-1', 'AA-1', 'AA-1', _),
  Evt16: row(_, 'AA-2', 'AA-3', _, 'AA-3', 'AA-3', 'AA-3', 'AA-3', 'AA-3', 'AA-3', 'AA-3', 'AA-3', 'AA-2'),
  Evt17: row(_, 'AA-5', 'AA-4', 'AA-4', 'AA-4', 'AA-4', 'AA-4', 'AA-4', 'AA-4', 'AA-4', 'AA-4', 'AA-4', 'AR-5'),
  Evt18: row(_, 'AA-2', _, _, _, _, _, _, _, _, _, _, 'AA-2'),
  Evt19: row(_, 'AA-1', 'AA-8', _, 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-8', 'AA-7'),
};

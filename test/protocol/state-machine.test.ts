// Every cell of PS3.8 Table 9-10 (13 states × 19 events = 247), checked against step(), from a
// transcription of the standard made here independently of src/net/ul/table.ts: if one of the
// two is mistyped, they disagree. Plus the properties the table must have as a whole.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { step } from '../../src/net/ul/machine.js';
import { ACTIONS, EVENTS, STATES, type Effect, type Event, type State } from '../../src/net/ul/table.js';

const STATE_LIST = ['Sta1', 'Sta2', 'Sta3', 'Sta4', 'Sta5', 'Sta6', 'Sta7', 'Sta8', 'Sta9', 'Sta10', 'Sta11', 'Sta12', 'Sta13'] as const satisfies readonly State[];
const EVENT_LIST = Array.from({ length: 19 }, (_, i) => `Evt${i + 1}`) as Event[];

// PS3.8 Table 9-10, one string per event, one column per state Sta1..Sta13; "." = no action
// defined (the event cannot happen, or is a local error, in that state).
//                     Sta1  Sta2  Sta3  Sta4  Sta5  Sta6  Sta7  Sta8  Sta9  Sta10 Sta11 Sta12 Sta13
const TABLE_9_10: Record<Event, string> = {
  Evt1: /*  A-ASSOCIATE rq */ 'AE-1  .     .     .     .     .     .     .     .     .     .     .     .',
  Evt2: /*  T-CONNECT conf */ '.     .     .     AE-2  .     .     .     .     .     .     .     .     .',
  Evt3: /*  ASSOC-AC PDU   */ '.     AA-1  AA-8  .     AE-3  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-6',
  Evt4: /*  ASSOC-RJ PDU   */ '.     AA-1  AA-8  .     AE-4  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-6',
  Evt5: /*  T-CONNECT ind  */ 'AE-5  .     .     .     .     .     .     .     .     .     .     .     .',
  Evt6: /*  ASSOC-RQ PDU   */ '.     AE-6  AA-8  .     AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-7',
  Evt7: /*  ASSOC rsp acc  */ '.     .     AE-7  .     .     .     .     .     .     .     .     .     .',
  Evt8: /*  ASSOC rsp rej  */ '.     .     AE-8  .     .     .     .     .     .     .     .     .     .',
  Evt9: /*  P-DATA rq      */ '.     .     .     .     .     DT-1  .     AR-7  .     .     .     .     .',
  Evt10: /* P-DATA-TF PDU  */ '.     AA-1  AA-8  .     AA-8  DT-2  AR-6  AA-8  AA-8  AA-8  AA-8  AA-8  AA-6',
  Evt11: /* RELEASE rq     */ '.     .     .     .     .     AR-1  .     .     .     .     .     .     .',
  Evt12: /* RELEASE-RQ PDU */ '.     AA-1  AA-8  .     AA-8  AR-2  AR-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-6',
  Evt13: /* RELEASE-RP PDU */ '.     AA-1  AA-8  .     AA-8  AA-8  AR-3  AA-8  AA-8  AR-10 AR-3  AA-8  AA-6',
  Evt14: /* RELEASE rsp    */ '.     .     .     .     .     .     .     AR-4  AR-9  .     .     AR-4  .',
  Evt15: /* ABORT rq       */ '.     .     AA-1  AA-2  AA-1  AA-1  AA-1  AA-1  AA-1  AA-1  AA-1  AA-1  .',
  Evt16: /* ABORT PDU      */ '.     AA-2  AA-3  .     AA-3  AA-3  AA-3  AA-3  AA-3  AA-3  AA-3  AA-3  AA-2',
  Evt17: /* T-CLOSED ind   */ '.     AA-5  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AA-4  AR-5',
  Evt18: /* ARTIM expired  */ '.     AA-2  .     .     .     .     .     .     .     .     .     .     AA-2',
  Evt19: /* invalid PDU    */ '.     AA-1  AA-8  .     AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-8  AA-7',
};

// PS3.8 Tables 9-6..9-9: where each action leads, and what it puts on the wire or does to the
// transport. `rj`/`abort`/`release-rp`... name the PDU sent; `close` the transport closed.
type Wire = 'assoc-rq' | 'assoc-ac' | 'assoc-rj' | 'pdata' | 'release-rq' | 'release-rp' | 'abort' | 'close' | 'connect';
const ACTION_DEFS: Record<string, { next: State | [State, State]; wire: Wire[]; artim?: 'start' | 'stop' }> = {
  'AE-1': { next: 'Sta4', wire: ['connect'] },
  'AE-2': { next: 'Sta5', wire: ['assoc-rq'] },
  'AE-3': { next: 'Sta6', wire: [] },
  'AE-4': { next: 'Sta1', wire: ['close'] },
  'AE-5': { next: 'Sta2', wire: [], artim: 'start' },
  'AE-6': { next: ['Sta3', 'Sta13'], wire: [] }, // acceptable → Sta3; otherwise RJ + ARTIM → Sta13
  'AE-7': { next: 'Sta6', wire: ['assoc-ac'] },
  'AE-8': { next: 'Sta13', wire: ['assoc-rj'], artim: 'start' },
  'DT-1': { next: 'Sta6', wire: ['pdata'] },
  'DT-2': { next: 'Sta6', wire: [] },
  'AR-1': { next: 'Sta7', wire: ['release-rq'] },
  'AR-2': { next: 'Sta8', wire: [] },
  'AR-3': { next: 'Sta1', wire: ['close'] },
  'AR-4': { next: 'Sta13', wire: ['release-rp'], artim: 'start' },
  'AR-5': { next: 'Sta1', wire: [], artim: 'stop' },
  'AR-6': { next: 'Sta7', wire: [] },
  'AR-7': { next: 'Sta8', wire: ['pdata'] },
  'AR-8': { next: ['Sta9', 'Sta10'], wire: [] }, // requestor → Sta9, acceptor → Sta10
  'AR-9': { next: 'Sta11', wire: ['release-rp'] },
  'AR-10': { next: 'Sta12', wire: [] },
  'AA-1': { next: 'Sta13', wire: ['abort'], artim: 'start' },
  'AA-2': { next: 'Sta1', wire: ['close'], artim: 'stop' },
  'AA-3': { next: 'Sta1', wire: ['close'] },
  'AA-4': { next: 'Sta1', wire: [] },
  'AA-5': { next: 'Sta1', wire: [], artim: 'stop' },
  'AA-6': { next: 'Sta13', wire: [] },
  'AA-7': { next: 'Sta13', wire: ['abort'] },
  'AA-8': { next: 'Sta13', wire: ['abort'], artim: 'start' },
};

const WIRE_OF: Partial<Record<Effect, Wire>> = {
  'connect-transport': 'connect',
  'send-associate-rq': 'assoc-rq',
  'send-associate-ac': 'assoc-ac',
  'send-associate-rj': 'assoc-rj',
  'send-pdata': 'pdata',
  'send-release-rq': 'release-rq',
  'send-release-rp': 'release-rp',
  'send-abort': 'abort',
  'send-abort-provider': 'abort',
  'close-transport': 'close',
};
const wireOf = (effects: readonly Effect[]): Wire[] =>
  effects.flatMap((e) => {
    const w = WIRE_OF[e];
    return w ? [w] : [];
  });

const parsed: Record<Event, (string | null)[]> = Object.fromEntries(
  EVENT_LIST.map((e) => {
    const cells = TABLE_9_10[e].trim().split(/\s+/);
    return [e, cells.map((c) => (c === '.' ? null : c))];
  }),
) as Record<Event, (string | null)[]>;

const expected = (state: State, event: Event): string | null => parsed[event][STATE_LIST.indexOf(state)] ?? null;

const PDU_EVENTS: Event[] = ['Evt3', 'Evt4', 'Evt6', 'Evt10', 'Evt12', 'Evt13', 'Evt16', 'Evt19'];
const PDU_STATES: State[] = ['Sta2', 'Sta3', 'Sta5', 'Sta6', 'Sta7', 'Sta8', 'Sta9', 'Sta10', 'Sta11', 'Sta12', 'Sta13'];

test('the transcription itself: 19 rows of 13 cells, 13 states and 19 events in the module', () => {
  for (const e of EVENT_LIST) assert.equal(parsed[e].length, 13, `${e} row`);
  assert.deepEqual(Object.keys(STATES), [...STATE_LIST]);
  assert.deepEqual(Object.keys(EVENTS), EVENT_LIST);
  for (const e of EVENT_LIST) for (const a of parsed[e]) if (a) assert.ok(a in ACTION_DEFS, `${a} is an action of Tables 9-6..9-9`);
  assert.deepEqual(Object.keys(ACTIONS).sort(), Object.keys(ACTION_DEFS).sort(), 'the module defines the same 28 actions');
});

for (const event of EVENT_LIST) {
  describe(`${event}: ${EVENTS[event]}`, () => {
    for (const state of STATE_LIST) {
      const action = expected(state, event);
      test(`${state} + ${event} → ${action ?? 'no action'}`, () => {
        if (!action) {
          assert.equal(step(state, event), null);
          assert.equal(step(state, event, { acceptable: false, requestor: true }), null);
          return;
        }
        const def = ACTION_DEFS[action]!;
        if (Array.isArray(def.next)) {
          // conditional actions: both branches
          const cond = action === 'AE-6' ? 'acceptable' : 'requestor';
          const yes = step(state, event, { [cond]: true });
          const no = step(state, event, { [cond]: false });
          assert.ok(yes && no, `Table 9-10 defines ${action} for ${state} + ${event}`);
          assert.equal(yes.action, action);
          assert.equal(no.action, action);
          assert.equal(yes.next, def.next[0]);
          assert.equal(no.next, def.next[1]);
          return;
        }
        const s = step(state, event);
        assert.ok(s, `Table 9-10 defines ${action} for ${state} + ${event}`);
        assert.equal(s.action, action);
        assert.equal(s.next, def.next);
        assert.deepEqual(wireOf(s.effects), def.wire, `${action}: what goes on the wire`);
        if (def.artim === 'start') assert.ok(s.effects.includes('start-artim'), `${action} starts ARTIM`);
        if (def.artim === 'stop') assert.ok(s.effects.includes('stop-artim'), `${action} stops ARTIM`);
        if (def.artim !== 'start') assert.ok(!s.effects.includes('start-artim'), `${action} does not start ARTIM`);
      });
    }
  });
}

describe('conditional actions', () => {
  test('AE-6, A-ASSOCIATE-RQ acceptable: stop ARTIM, A-ASSOCIATE indication, Sta3', () => {
    const s = step('Sta2', 'Evt6', { acceptable: true })!;
    assert.equal(s.next, 'Sta3');
    assert.deepEqual([...s.effects].sort(), ['indicate-associate', 'stop-artim']);
    // acceptable is the default when no condition is given
    assert.equal(step('Sta2', 'Evt6')!.next, 'Sta3');
  });

  test('AE-6, not acceptable: stop ARTIM, send A-ASSOCIATE-RJ, start ARTIM, Sta13', () => {
    const s = step('Sta2', 'Evt6', { acceptable: false })!;
    assert.equal(s.next, 'Sta13');
    assert.ok(!s.effects.includes('indicate-associate'));
    assert.deepEqual(wireOf(s.effects), ['assoc-rj']);
    assert.ok(s.effects.includes('start-artim'));
    assert.ok(s.effects.indexOf('stop-artim') < s.effects.indexOf('start-artim'), 'the timer is restarted, not stopped last');
  });

  test('AR-8 (release collision): requestor → Sta9, acceptor → Sta10, A-RELEASE indication either way', () => {
    const req = step('Sta7', 'Evt12', { requestor: true })!;
    const acc = step('Sta7', 'Evt12', { requestor: false })!;
    assert.equal(req.next, 'Sta9');
    assert.equal(acc.next, 'Sta10');
    for (const s of [req, acc]) assert.deepEqual([...s.effects], ['indicate-release']);
    // the acceptor is the default
    assert.equal(step('Sta7', 'Evt12')!.next, 'Sta10');
  });

  test('the conditions do not change unconditional actions', () => {
    for (const state of STATE_LIST)
      for (const event of EVENT_LIST) {
        const a = expected(state, event);
        if (!a || a === 'AE-6' || a === 'AR-8') continue;
        const variants = [{}, { acceptable: false }, { requestor: true }, { acceptable: false, requestor: false }].map((c) => step(state, event, c));
        for (const v of variants) assert.deepEqual(v, variants[0], `${state} + ${event}`);
      }
  });
});

describe('properties of the whole table', () => {
  test('every PDU-received event is defined in every state where a connection exists (Sta2, 3, 5..13)', () => {
    for (const event of PDU_EVENTS)
      for (const state of PDU_STATES) assert.ok(step(state, event), `${state} + ${event} must have an action (a peer can send anything at any time)`);
  });

  test('no PDU-received event is defined where there is no connection to receive it on (Sta1, Sta4)', () => {
    for (const event of PDU_EVENTS) for (const state of ['Sta1', 'Sta4'] as const) assert.equal(step(state, event), null, `${state} + ${event}`);
  });

  test('every action that sends an A-ABORT leads to Sta13', () => {
    let seen = 0;
    for (const state of STATE_LIST)
      for (const event of EVENT_LIST)
        for (const cond of [{ acceptable: true, requestor: true }, { acceptable: false, requestor: false }]) {
          const s = step(state, event, cond);
          if (!s || !wireOf(s.effects).includes('abort')) continue;
          seen++;
          assert.equal(s.next, 'Sta13', `${state} + ${event} (${s.action}) sends an A-ABORT`);
        }
    assert.ok(seen > 50);
  });

  test('Evt17 (transport closed) leads to Sta1 from every state where it is defined', () => {
    const defined = STATE_LIST.filter((s) => step(s, 'Evt17'));
    assert.deepEqual(defined, STATE_LIST.filter((s) => s !== 'Sta1'));
    for (const state of defined) {
      const s = step(state, 'Evt17')!;
      assert.equal(s.next, 'Sta1', state);
      assert.deepEqual(wireOf(s.effects), [], `${state}: nothing can be sent on a closed connection`);
    }
  });

  test('ARTIM expiry closes the transport (Evt18 in Sta2 and Sta13)', () => {
    for (const state of ['Sta2', 'Sta13'] as const) {
      const s = step(state, 'Evt18')!;
      assert.equal(s.next, 'Sta1');
      assert.ok(s.effects.includes('close-transport'), `${state}: the connection must not be left open`);
    }
  });

  test('every state that starts ARTIM is left by ARTIM expiry or a transport close', () => {
    for (const state of STATE_LIST)
      for (const event of EVENT_LIST) {
        const s = step(state, event, { acceptable: false });
        if (!s?.effects.includes('start-artim')) continue;
        assert.ok(step(s.next, 'Evt18'), `${s.next} (after ${state} + ${event}) handles ARTIM expiry`);
        assert.ok(step(s.next, 'Evt17'), `${s.next} handles a transport close`);
      }
  });

  test('Sta1 and Sta4 are never entered by a received PDU; Sta6 only by association or data', () => {
    for (const state of STATE_LIST)
      for (const event of EVENT_LIST) {
        const s = step(state, event);
        if (!s) continue;
        if (s.next === 'Sta6') assert.ok(['AE-3', 'AE-7', 'DT-1', 'DT-2'].includes(s.action), `${state} + ${event} → Sta6 by ${s.action}`);
        if (s.next === 'Sta4') assert.equal(s.action, 'AE-1');
      }
  });
});

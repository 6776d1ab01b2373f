// step(state, event) → the action, the effects to carry out and the next state. Pure: the
// association owns the socket and the timer and does what the effects say.
import { ACTIONS, type ActionName, type Effect, type Event, type State, TRANSITIONS } from './table.js';

export interface Conditions {
  /** AE-6: the service provider finds the A-ASSOCIATE-RQ acceptable (e.g. protocol version). */
  acceptable?: boolean;
  /** AR-8: this side is the association requestor. */
  requestor?: boolean;
}

export interface Step {
  action: ActionName;
  effects: readonly Effect[];
  next: State;
}

/** Returns null when Table 9-10 defines no transition: the event is not valid in that state. */
export function step(state: State, event: Event, cond: Conditions = {}): Step | null {
  const action = TRANSITIONS[event][state];
  if (!action) return null;
  const def: { effects: readonly Effect[]; elseEffects?: readonly Effect[]; next: (typeof ACTIONS)[ActionName]['next'] } = ACTIONS[action];
  if (typeof def.next === 'string') return { action, effects: def.effects, next: def.next };
  const holds = def.next.if === 'acceptable' ? cond.acceptable !== false : cond.requestor === true;
  return {
    action,
    effects: holds ? def.effects : (def.elseEffects ?? def.effects),
    next: holds ? def.next.then : def.next.else,
  };
}

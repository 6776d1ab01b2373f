// The research rules: when an instance is received, or a series or study becomes stable, each
// enabled rule for that event whose `match` holds queues its actions as durable jobs. A job's
// dedupe key names the rule, the action and the version of what it acts on (the change-log
// sequence number of its latest instance), so the same event given twice (a crash between
// queueing and recording) queues nothing new. A study or series that grows and becomes stable
// again is acted on again, but each rule's action remembers how far it got (a cursor in the
// change log per rule, action and subject): a forward then sends only what is new, a command is
// told which instances are new, an export writes only the new files.
import { createHash } from 'node:crypto';
import type { Rule, RuleAction, RuleEvent } from '../config/schema.js';
import type { Logger } from '../core/logging.js';
import type { ArchiveIndex, InstanceLocation } from '../index/types.js';
import type { Job } from '../index/jobs.js';
import type { StabilityEntry } from '../index/stability.js';
import type { QueryLevel } from '../index/query/types.js';
import { readAttributes, type Attributes, type SourceOf } from './attributes.js';
import type { MetadataService } from './metadata.js';
import { ruleMatches } from './rule-match.js';

/** What a rule acts on. */
export interface RuleSubject {
  event: RuleEvent;
  level: QueryLevel;
  uid: string;
  studyUID: string;
  /** Change-log sequence number of its latest instance. */
  seq: number;
  /** An instance of it whose attributes are matched (the latest). */
  sopInstanceUID: string;
  source: SourceOf;
}

export interface Enqueuer {
  enqueue(type: string, payload: Record<string, unknown>, options: { dedupeKey?: string }): Promise<{ id: number }>;
  /** The job queued with a dedupe key (the previous version's, to take over what it left undone). */
  find(dedupeKey: string): Promise<Pick<Job, 'id' | 'state' | 'payload'> | null>;
  cancel(id: number): Promise<unknown>;
}

export interface RuleDeps {
  rules: () => readonly Rule[];
  index: ArchiveIndex;
  metadata: MetadataService;
  jobs: Enqueuer;
  logger: Logger;
}

/** A short digest of what an action does (its type, destination, options). */
export const actionDigest = (action: RuleAction): string => createHash('sha256').update(JSON.stringify(action)).digest('hex').slice(0, 16);

/** The part of the change log a job acts on: none given, all of the subject. */
export interface ActedRange {
  after: number;
  upTo: number;
}

/**
 * Why a job a rule queued is no longer to be carried out when its turn comes (a destination
 * down, a back-off): the rule was removed or disabled since (a reload), or no longer has an
 * action that does this — forward to this node or DICOMweb server, export to this folder, run
 * this command — with de-identification as queued (on or off, and its pseudonym prefix): the job
 * would do what the site has stopped doing (send a lab's subjects to a collaborator whose
 * agreement ended, or send identified what must now go de-identified). Other changes of an
 * action's options (a template, a profile's other options) leave the job as queued: an upgrade
 * that adds a default to them must not cancel every queued job. Null for a job of a rule as it
 * is, and for a job no rule queued.
 */
export function withdrawnRuleJob(rules: readonly Rule[], job: { type: string; payload: Record<string, unknown> }): string | null {
  const p = job.payload;
  if (typeof p.rule !== 'string') return null;
  const rule = rules.find((r) => r.name === p.rule);
  const since = 'since the job was queued; not carried out (`pacs jobs retry` runs it once the rule has it again)';
  if (!rule) return `the rule "${p.rule}" was removed ${since}`;
  if (!rule.enabled) return `the rule "${p.rule}" was disabled ${since}`;
  const deid = (d: unknown): string => (d && typeof d === 'object' ? `deidentified as ${String((d as { pseudonym_prefix?: unknown }).pseudonym_prefix)}` : 'as stored');
  const same = (a: RuleAction): boolean => {
    if (job.type === 'command') return a.type === 'command' && JSON.stringify(a.argv) === JSON.stringify(p.argv);
    if (deid(a.type === 'command' ? undefined : a.deidentify) !== deid(p.deidentify)) return false;
    if (job.type === 'export') return a.type === 'export' && a.to === p.to;
    if (job.type === 'send') return a.type === 'forward' && a.dicomweb === undefined && a.node === p.destination;
    if (job.type === 'stow') return a.type === 'forward' && a.dicomweb !== undefined && a.dicomweb === p.server;
    return true;
  };
  if (!rule.actions.some(same)) return `the rule "${p.rule}" no longer has this action (its destination or de-identification changed, or it was removed) ${since}`;
  return null;
}

/** The job (type and payload) that carries out one action on one subject (only its changes in `range`, when given). */
export function actionJob(rule: string, action: RuleAction, s: RuleSubject, range?: ActedRange): { type: string; payload: Record<string, unknown> } {
  const what = { rule, level: s.level, uid: s.uid, studyUID: s.studyUID };
  const changes = range ? { changes: range } : {};
  switch (action.type) {
    case 'export':
      return { type: 'export', payload: { ...what, to: action.to, template: action.template, mode: action.mode, ...(action.deidentify ? { deidentify: action.deidentify } : {}) } };
    case 'forward': {
      // The send job does the C-STORE, the stow job the STOW-RS; the rule's name is kept for the jobs page.
      const deidentify = action.deidentify ? { deidentify: action.deidentify } : {};
      // studyUID: retention leaves a study with a forward of it, or of its series, still to go.
      if (action.dicomweb !== undefined) return { type: 'stow', payload: { rule, server: action.dicomweb, level: s.level, uids: [s.uid], studyUID: s.studyUID, ...deidentify, ...changes } };
      return { type: 'send', payload: { rule, destination: action.node, level: s.level, uids: [s.uid], studyUID: s.studyUID, ...deidentify, ...changes } };
    }
    case 'command':
      return { type: 'command', payload: { ...what, argv: action.argv, timeout: action.timeout, event: s.event, ...changes } };
  }
}

export class RuleEngine {
  constructor(private readonly deps: RuleDeps) {}

  fromStable(entry: StabilityEntry): Promise<number> {
    return this.apply({
      event: entry.level === 'study' ? 'study.stable' : 'series.stable',
      level: entry.level === 'study' ? 'STUDY' : 'SERIES',
      uid: entry.uid,
      studyUID: entry.studyUID,
      seq: entry.lastChangeSeq,
      sopInstanceUID: entry.sopInstanceUID,
      source: { callingAE: entry.callingAE, calledAE: entry.calledAE, remoteAddress: entry.remoteAddress },
    });
  }

  /**
   * The instances whose attributes a rule is matched against, any one sufficing; empty when none
   * is left. First the one named, or — a study or series whose named (latest) instance was
   * deleted since — the last one it still holds. For a study, then the latest of each of its
   * other series too: a study's last object is often a dose report or a presentation state, and
   * matched alone its Modality (SR, PR) hid the MR series of a study from a rule on
   * `Modality: MR`. Attributes are read only as far as needed.
   */
  private async seenInstances(subject: RuleSubject): Promise<InstanceLocation[]> {
    const named = await this.deps.index.findInstance(subject.sopInstanceUID);
    if (subject.level === 'SERIES' && !named) return (await this.deps.index.instancesOf(subject.studyUID, subject.uid)).slice(-1);
    if (subject.level !== 'STUDY') return named ? [named] : [];
    const all = await this.deps.index.instancesOf(subject.studyUID);
    const loc = named ?? all.at(-1);
    if (!loc) return [];
    const latest = new Map<string, InstanceLocation>();
    for (const l of all) latest.set(l.SeriesInstanceUID, l);
    latest.delete(loc.SeriesInstanceUID);
    return [loc, ...latest.values()];
  }

  /** Queues the actions of every matching rule for `subject`; returns how many jobs were queued (or found queued). */
  async apply(subject: RuleSubject): Promise<number> {
    const rules = this.deps.rules().filter((r) => r.enabled && r.on === subject.event);
    if (!rules.length) return 0;
    const seen = await this.seenInstances(subject);
    if (!seen.length) return 0; // deleted since: nothing to act on
    const attributes: Attributes[] = [];
    // Each instance matched with its own sender: a series sent later by another AE (a key object
    // from a workstation) was matched with the sender of the study's latest instance, so a rule on
    // CalledAE missed the study's own series, or took another lab's.
    const senderOf = async (loc: InstanceLocation): Promise<RuleSubject['source']> =>
      loc.SOPInstanceUID === subject.sopInstanceUID ? subject.source : ((await this.deps.index.senderOf(loc.SOPInstanceUID)) ?? subject.source);
    const attributesOf = async (i: number): Promise<Attributes> => (attributes[i] ??= await readAttributes(this.deps.metadata, seen[i]!, await senderOf(seen[i]!)));
    const matches = async (match: Rule['match']): Promise<boolean> => {
      // An empty match takes everything: no file is read for it (a forward-all rule parsed every instance received).
      if (Object.keys(match).length === 0) return true;
      for (let i = 0; i < seen.length; i++) if (ruleMatches(match, await attributesOf(i))) return true;
      return false;
    };
    let queued = 0;
    for (const rule of rules) {
      if (!(await matches(rule.match))) continue;
      for (const action of rule.actions) {
        // The cursor and the job's dedupe key follow the action itself, not its place in the list:
        // inserting or reordering actions must not hand one destination's progress (or its job
        // for this version) to another.
        const acted = `rule:${rule.name}:${actionDigest(action)}:${subject.level}:${subject.uid}`;
        const grown = subject.level === 'STUDY' || subject.level === 'SERIES';
        const after = grown ? await this.deps.index.cursors.find(acted) : null;
        if (after !== null && after >= subject.seq) continue; // this version was acted on (a crash before it was marked stable)
        const from = after === null ? null : await this.takeOver(`${acted}:${after}`, after);
        const { type, payload } = actionJob(rule.name, action, subject, from === null ? undefined : { after: from, upTo: subject.seq });
        const job = await this.deps.jobs.enqueue(type, payload, { dedupeKey: `${acted}:${subject.seq}` });
        if (grown) await this.deps.index.cursors.advance(acted, subject.seq);
        this.deps.logger.info({ rule: rule.name, action: action.type, level: subject.level, uid: subject.uid, job: job.id }, 'rule matched: job queued');
        queued++;
      }
    }
    return queued;
  }

  /**
   * Where the job for a new version starts: after `after` (what the previous version's job
   * covered) when that job succeeded, else where that job started — it failed after its last
   * try, was canceled, or has not run yet (its destination down): the part it leaves undone
   * would otherwise never be acted on, as the cursor has moved past it. One still queued or
   * running is canceled, so that one job, not two, acts on that part. Null: the whole subject.
   */
  private async takeOver(previousKey: string, after: number): Promise<number | null> {
    const previous = await this.deps.jobs.find(previousKey);
    if (previous === null || previous.state === 'succeeded') return after;
    if (previous.state === 'queued' || previous.state === 'running') await this.deps.jobs.cancel(previous.id);
    const changes = previous.payload.changes as { after?: unknown } | undefined;
    return typeof changes?.after === 'number' ? changes.after : null;
  }
}

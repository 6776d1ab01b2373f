// ORM^O01 general orders (HL7 v2.5.1 4.4.1) and OMI^O23 imaging orders (4.4.9) as Modality
// Worklist entries. Field choices follow IHE Radiology (RAD TF-2, the Placer/Filler Order and
// Procedure Scheduled transactions): OBR-18 Accession Number, OBR-19 Requested Procedure ID,
// OBR-20 Scheduled Procedure Step ID, OBR-24 the modality, ZDS-1 the Study Instance UID when the
// order filler gives one; in an OMI^O23 the IPC segments say these, per step (ipc.ts), and win.
import type { JsonDataset, JsonElement } from '../dicom/json.js';
import { type ImagingStep, readIpc, stepIdOf, stepKey } from './ipc.js';
import { Hl7Error, Hl7ErrorCode, type Hl7Message, type Segment, placeIn, quoted, relocated } from './message.js';
import { HL7_NULL, assigningAuthority, birthDate, checkValues, dateTime, limit, value, values } from './values.js';

export type OrderControl = 'new' | 'change' | 'cancel';

/** One Scheduled Procedure Step of an order: a worklist entry. */
export interface OrderStep {
  /** The entry's source key: the order's key, or for an OMI^O23 step with an ID the order's key and that ID (ipc.ts). */
  key: string;
  dataset: JsonDataset;
}

export interface Order {
  control: OrderControl;
  /** The order's key: the placer order number (else the filler's). */
  key: string;
  /** Its steps (new, change): one for an ORM^O01, one per IPC for an OMI^O23; none for a cancel. */
  steps: OrderStep[];
  /**
   * The steps are all the order has now (an OMI^O23 change, which carries every IPC of the
   * order): its other entries still open are canceled. An ORM^O01 names one step, no others.
   */
  complete: boolean;
  /**
   * The filler order number when the key is the placer's: the order may be known under it (first
   * sent before the placer number was assigned, ORC|NW||F1). Either number identifies the order
   * (HL7 v2 4.5.1.2, 4.5.1.3).
   */
  otherKey?: string;
}

/** The order under another key (its steps' keys made again from it), as OrderService finds it known. */
export function rekeyed(o: Order, key: string): Order {
  const steps = o.steps.map((s) => ({ ...s, key: s.key === o.key ? key : stepKey(key, stepIdOf(s.dataset)) }));
  const { otherKey: _otherKey, ...rest } = o;
  return { ...rest, key, steps };
}

/** ORC-1 order control codes (HL7 Table 0119) we act on. */
const CONTROLS: Record<string, OrderControl> = { NW: 'new', XO: 'change', CA: 'cancel', OC: 'cancel', DC: 'cancel' };

/** OBR-24 diagnostic service section IDs (HL7 Table 0074) that name a DICOM modality. */
const SECTION_MODALITY: Record<string, string> = { CT: 'CT', CUS: 'US', NMR: 'MR', NMS: 'NM', RX: 'CR', XRC: 'XA', VUS: 'US', OUS: 'US' };
const MODALITIES = new Set(['CR', 'CT', 'DX', 'ES', 'IO', 'MG', 'MR', 'NM', 'OT', 'PT', 'RF', 'RG', 'US', 'XA', 'XC', 'OP', 'OCT', 'SM', 'BMD', 'IVUS', 'ECG', 'EPS', 'HD']);

const str = (vr: string, value: string): JsonElement => (value === '' ? { vr } : { vr, Value: [value] });
const pn = (value: string): JsonElement => (value === '' ? { vr: 'PN' } : { vr: 'PN', Value: [{ Alphabetic: value }] });

/**
 * A table's entry for a value from the message. Own keys only: a plain lookup also finds
 * what every object inherits, so PV1-3 "constructor" gave a function as the station AE.
 */
const entry = <T>(table: Readonly<Record<string, T>>, key: string): T | undefined => (Object.hasOwn(table, key) ? table[key] : undefined);

/** XPN (family^given^middle^suffix^prefix) or XCN (id^family^given^middle^suffix^prefix) → DICOM PN (family^given^middle^prefix^suffix). */
export function personName(parts: string[]): string {
  // ^ and = separate components and groups in a PN: one inside a component becomes a space.
  const [family = '', given = '', middle = '', suffix = '', prefix = ''] = parts.map((p) => p.replace(/[\^=]/g, ' '));
  return [family, given, middle, prefix, suffix].join('^').replace(/\^+$/, '');
}

/** PID-8 administrative sex (Table 0001) → Patient's Sex; unknown and others left empty. */
export const patientSex = (v: string): string => (['M', 'F', 'O'].includes(v.toUpperCase()) ? v.toUpperCase() : '');

/** Where each patient attribute comes from, for the ACK of a value that does not fit it. */
const PATIENT_FIELDS: Readonly<Record<string, string>> = { '00100010': 'PID-5', '00100020': 'PID-3', '00100021': 'PID-3.4', '00100030': 'PID-7', '00100040': 'PID-8' };

/**
 * The patient attributes of a PID segment (shared with the ADT messages). A new order carries
 * the whole patient, so an empty field is an empty attribute. An update (`changesOnly`) follows
 * HL7 v2 for fields: an empty one (or one with no non-empty component) says nothing and leaves
 * its attribute out (ADT^A08 with only PID-3 and PID-5 keeps the birth date), "" says delete and
 * empties the attribute.
 */
export function patientAttributes(msg: Hl7Message, pid: Segment | undefined, changesOnly = false): JsonDataset {
  const id = value(msg, pid, 3);
  if (!id) throw new Hl7Error('PID-3 has no patient identifier', Hl7ErrorCode.RequiredFieldMissing, 'PID-3');
  const out: JsonDataset = {};
  const put = (field: number, tag: string, vr: string, element: () => JsonElement): void => {
    const raw = msg.raw(pid, field).trim();
    // Only delimiters (^^^, or an empty first repetition: ~DOE^J) give no value, as an empty
    // field: they counted as given, and an ADT^A08 erased the name in the worklist and the index.
    const given = raw === HL7_NULL || values(msg, pid, field).some((c) => c !== '');
    if (raw === HL7_NULL || (!given && !changesOnly)) out[tag] = { vr };
    else if (given) out[tag] = element();
  };
  // A "" component (DOE^"") deletes that part only.
  put(5, '00100010', 'PN', () => pn(personName(values(msg, pid, 5))));
  out['00100020'] = str('LO', limit(id, 64, 'PID-3'));
  put(7, '00100030', 'DA', () => {
    const v = value(msg, pid, 7);
    return str('DA', v ? birthDate(v, 'PID-7') : '');
  });
  put(8, '00100040', 'CS', () => str('CS', patientSex(value(msg, pid, 8))));
  const issuer = assigningAuthority(msg, pid, 3);
  if (issuer) out['00100021'] = str('LO', limit(issuer, 64, 'PID-3.4'));
  checkValues(out, PATIENT_FIELDS);
  return out;
}

/**
 * The segments of each order: from one ORC up to the next. Past `max` orders the message is
 * refused before any is read: a 16 MB frame holds some 300,000 ORC/OBR pairs, each a worklist
 * entry and a database write while the listener waits.
 */
function orderGroups(msg: Hl7Message, max: number): Segment[][] {
  const groups: Segment[][] = [];
  let steps = 0;
  for (const s of msg.segments) {
    // Each IPC is a step, a worklist entry of its own: they count as orders do (one ORC with
    // 100,000 IPCs was the flood the limit is there to stop).
    if (s.name === 'IPC' && ++steps > max)
      throw new Hl7Error(`the message has more than ${max} scheduled steps (IPC segments; hl7.max_orders_per_message): none was taken, send them in smaller messages`, Hl7ErrorCode.SegmentSequence, placeIn('IPC', steps));
    if (s.name === 'ORC') {
      if (groups.length === max)
        throw new Hl7Error(`the message has more than ${max} orders (ORC segments; hl7.max_orders_per_message): none was taken, send them in smaller messages`, Hl7ErrorCode.SegmentSequence, placeIn('ORC', max + 1));
      groups.push([s]);
    } else if (groups.length) groups[groups.length - 1]!.push(s);
  }
  return groups;
}

/** Where each order attribute comes from (the fixed ones), for the ACK of a value that does not fit it. */
const ORDER_FIELDS: Readonly<Record<string, string>> = {
  '00080090': 'PV1-8',
  '00321060': 'OBR-4',
  '00321064/0/00080100': 'OBR-4.1',
  '00321064/0/00080102': 'OBR-4.3',
  '00321064/0/00080104': 'OBR-4.2',
  '00402016': 'ORC-2',
  '00402017': 'ORC-3',
  '00400100/0/00400007': 'OBR-4',
  '00400100/0/00400010': 'IPC-7',
  '00400100/0/00400011': 'IPC-8',
};

export interface OrderOptions {
  /** Scheduled Station AE Title by PV1-3 point of care or by modality. */
  stationAE: Readonly<Record<string, string>>;
  /** Orders (ORC segments) a message may hold (hl7.max_orders_per_message); unset: no limit. */
  maxOrders?: number;
  /** An OMI^O23: each order's IPC segments are its steps. */
  imaging?: boolean;
}

/** What the orders of a message share, found once: each order looking for them again read the whole message per order. */
interface Shared {
  pv1: Segment | undefined;
  zds: Segment | undefined;
  /** The patient attributes of the PID (a copy each: each order's dataset is its own). */
  patient: () => JsonDataset;
}

export function readOrders(msg: Hl7Message, options: OrderOptions): Order[] {
  const groups = orderGroups(msg, options.maxOrders ?? Infinity);
  if (!groups.length) throw new Hl7Error(`an ${options.imaging ? 'OMI^O23' : 'ORM^O01'} needs at least one ORC segment`, Hl7ErrorCode.SegmentSequence, 'ORC');
  const pid = msg.segment('PID');
  let patient: JsonDataset | undefined;
  // A ZDS outside any order group is the order's only when there is one order: with several, the
  // first order's Study Instance UID went to every order without a ZDS of its own (two exams
  // filed as one study).
  const zds = groups.length === 1 ? msg.segment('ZDS') : undefined;
  const shared: Shared = { pv1: msg.segment('PV1'), zds, patient: () => structuredClone((patient ??= patientAttributes(msg, pid))) };
  const orders = groups.map((g) => {
    try {
      return readOrder(msg, g, shared, options);
    } catch (e) {
      // A field named without its segment's sequence is this order's segment of that name.
      const located = g.find((s) => e instanceof Hl7Error && e.location?.startsWith(s.name));
      throw located ? relocated(e, located.name, msg.sequenceOf(located)) : e;
    }
  });
  // One order number given as new twice in a message: the second overwrote the first, answered
  // AA. (A new order, then its change or cancel, is a sequence, done in order.)
  const created = new Set<string>();
  for (const [i, o] of orders.entries()) {
    if (o.control !== 'new') continue;
    if (created.has(o.key)) throw new Hl7Error(`order ${quoted(o.key)} is given as new (NW) twice in the message`, Hl7ErrorCode.DuplicateKeyIdentifier, placeIn('ORC', i + 1, '-2'));
    created.add(o.key);
  }
  return orders;
}

function readOrder(msg: Hl7Message, group: Segment[], shared: Shared, options: OrderOptions): Order {
  const orc = group[0]!;
  const obr = group.find((s) => s.name === 'OBR');
  // Each OBR is a procedure, and an order (ORC) one entry: a second OBR's procedure and accession
  // were lost, answered AA. Each procedure comes with its own ORC.
  const second = group.filter((s) => s.name === 'OBR')[1];
  if (second)
    throw new Hl7Error(`order ${quoted(value(msg, orc, 2) || value(msg, orc, 3))} has several OBR segments: each procedure needs its own ORC`, Hl7ErrorCode.SegmentSequence, placeIn('OBR', msg.sequenceOf(second)));
  const code = value(msg, orc, 1).toUpperCase();
  const control = entry(CONTROLS, code);
  if (!control) throw new Hl7Error(`ORC-1 order control ${quoted(code)} is not one we act on (NW, XO, CA, OC, DC)`, Hl7ErrorCode.TableValueNotFound, 'ORC-1');
  const placer = value(msg, orc, 2) || value(msg, obr, 2);
  const filler = value(msg, orc, 3) || value(msg, obr, 3);
  const key = placer || filler;
  if (!key) throw new Hl7Error('the order has no placer (ORC-2) or filler (ORC-3) order number', Hl7ErrorCode.RequiredFieldMissing, 'ORC-2');
  const other = placer && filler && filler !== placer ? { otherKey: filler } : {};
  if (control === 'cancel') return { control, key, steps: [], complete: false, ...other };
  if (!obr) throw new Hl7Error('a new or changed order needs its OBR segment', Hl7ErrorCode.SegmentSequence, 'OBR');
  const order = { msg, group, orc, obr, placer, filler, shared, options };
  if (!options.imaging) return { control, key, steps: [{ key, dataset: stepDataset(order, null) }], complete: false, ...other };
  // An OMI^O23 without IPC (which v2.5.1 requires) is taken as an ORM^O01 order is, from its OBR.
  const ipcs = group.filter((s) => s.name === 'IPC');
  const steps = (ipcs.length ? ipcs : [undefined]).map((ipc) => {
    try {
      const dataset = stepDataset(order, ipc ? readIpc(msg, ipc) : null);
      return { key: stepKey(key, stepIdOf(dataset)), dataset };
    } catch (e) {
      throw ipc ? relocated(e, 'IPC', msg.sequenceOf(ipc)) : e;
    }
  });
  const seen = new Set<string>();
  for (const [i, step] of steps.entries()) {
    if (seen.has(step.key)) {
      const id = stepIdOf(step.dataset);
      // The IPC of the step named twice (or of the second step without an ID).
      const at = placeIn('IPC', msg.sequenceOf(ipcs[i]!), '-4');
      throw id
        ? new Hl7Error(`order ${quoted(key)} has two steps with Scheduled Procedure Step ID ${quoted(id)}`, Hl7ErrorCode.DuplicateKeyIdentifier, at)
        : new Hl7Error(`order ${quoted(key)} has several IPC segments and one without a Scheduled Procedure Step ID (IPC-4): each step needs its own`, Hl7ErrorCode.RequiredFieldMissing, at);
    }
    seen.add(step.key);
  }
  return { control, key, steps, complete: control === 'change', ...other };
}

interface OrderSegments {
  msg: Hl7Message;
  group: Segment[];
  orc: Segment;
  obr: Segment;
  placer: string;
  filler: string;
  shared: Shared;
  options: OrderOptions;
}

/** A value from the IPC when it gives one, else from the ORM place; with the field it came from. */
const either = (fromIpc: string | undefined, ipcField: string, other: string, otherField: string): [string, string] => (fromIpc ? [fromIpc, ipcField] : [other, otherField]);

/** The worklist entry of one step of an order: from its OBR (and ZDS), with what `ipc` says put over it. */
function stepDataset(o: OrderSegments, ipc: ImagingStep | null): JsonDataset {
  const { msg, group, orc, obr, placer, filler, shared, options } = o;
  const { pv1 } = shared;
  const ds = shared.patient();

  const [section, sectionField] = either(ipc?.modality, 'IPC-5', value(msg, obr, 24).toUpperCase(), 'OBR-24');
  const modality = MODALITIES.has(section) ? section : entry(SECTION_MODALITY, section);
  if (!modality) {
    const empty = `${options.imaging ? 'IPC-5 (modality) and OBR-24 (diagnostic service section) are' : 'OBR-24 (diagnostic service section) is'} empty: the modality is needed`;
    throw new Hl7Error(section ? `${sectionField} ${quoted(section)} names no DICOM modality` : empty, section ? Hl7ErrorCode.TableValueNotFound : Hl7ErrorCode.RequiredFieldMissing, options.imaging && !section ? 'IPC-5' : sectionField);
  }

  const tq1 = group.find((s) => s.name === 'TQ1');
  const [when, where] = [[value(msg, tq1, 7), 'TQ1-7'], [value(msg, obr, 27, 4), 'OBR-27.4'], [value(msg, obr, 36), 'OBR-36'], [value(msg, orc, 7, 4), 'ORC-7.4']].find(([v]) => v) ?? ['', ''];
  if (!when) throw new Hl7Error('no scheduled start (TQ1-7, OBR-27.4, OBR-36 or ORC-7.4)', Hl7ErrorCode.RequiredFieldMissing, 'TQ1-7');
  const start = dateTime(when, where!);

  const pointOfCare = value(msg, pv1, 3);
  const [station, stationField] = either(ipc?.stationAE, 'IPC-9', entry(options.stationAE, pointOfCare) ?? entry(options.stationAE, modality) ?? '', 'hl7.station_ae');
  const [procCode, procText, procScheme] = values(msg, obr, 4);
  const [accession, accessionField] = either(ipc?.accession, 'IPC-1', value(msg, obr, 18) || filler, value(msg, obr, 18) ? 'OBR-18' : 'ORC-3');
  ds['00080050'] = str('SH', limit(accession, 16, accessionField));
  ds['00080090'] = pn(personName(values(msg, pv1, 8).slice(1)));
  const requesting = values(msg, orc, 12).some((c) => c) ? 'ORC-12' : 'OBR-16';
  ds['00321032'] = pn(personName((requesting === 'ORC-12' ? values(msg, orc, 12) : values(msg, obr, 16)).slice(1)));
  ds['00321060'] = str('LO', (procText || procCode || '').slice(0, 64));
  if (procCode)
    ds['00321064'] = { vr: 'SQ', Value: [{ '00080100': str('SH', limit(procCode, 16, 'OBR-4.1')), '00080102': str('SH', (procScheme || 'L').slice(0, 16)), '00080104': str('LO', (procText || procCode).slice(0, 64)) }] };
  ds['00402016'] = str('LO', limit(placer, 64, 'ORC-2'));
  ds['00402017'] = str('LO', limit(filler, 64, 'ORC-3'));
  // The order group's own ZDS, else (one order alone) the message's.
  const [studyUid, studyField] = either(ipc?.studyInstanceUid, 'IPC-3', value(msg, group.find((s) => s.name === 'ZDS') ?? shared.zds, 1), 'ZDS-1');
  if (studyUid) ds['0020000D'] = str('UI', limit(studyUid, 64, studyField));
  const [requested, requestedField] = either(ipc?.requestedProcedureId, 'IPC-2', value(msg, obr, 19), 'OBR-19');
  if (requested) ds['00401001'] = str('SH', limit(requested, 16, requestedField));
  const step: JsonDataset = {
    '00080060': str('CS', modality),
    '00400001': str('AE', station),
    '00400002': str('DA', start.date),
    '00400003': str('TM', start.time),
    '00400007': str('LO', (procText || procCode || '').slice(0, 64)),
  };
  const [stepId, stepField] = either(ipc?.stepId, 'IPC-4', value(msg, obr, 20), 'OBR-20');
  if (stepId) step['00400009'] = str('SH', limit(stepId, 16, stepField));
  if (ipc?.stationName) step['00400010'] = str('SH', ipc.stationName);
  if (ipc?.location) step['00400011'] = str('SH', ipc.location);
  const protocolFields: Record<string, string> = {};
  if (ipc?.protocols.length) {
    step['00400008'] = {
      vr: 'SQ',
      Value: ipc.protocols.map((p, i) => {
        for (const [tag, part] of [['00080100', 1], ['00080102', 3], ['00080104', 2]] as const) protocolFields[`00400100/0/00400008/${i}/${tag}`] = `IPC-6.${part}`;
        return { '00080100': str('SH', p.code), '00080102': str('SH', (p.scheme || 'L').slice(0, 16)), '00080104': str('LO', (p.meaning || p.code).slice(0, 64)) };
      }),
    };
  }
  // No Scheduled Procedure Step Status: a new entry starts SCHEDULED (completeEntry), and an
  // order we have keeps the status modalities gave it. An NW setting SCHEDULED put a resent
  // order (its ACK lost) back into the worklist after it was started, done or canceled.
  ds['00400100'] = { vr: 'SQ', Value: [step] };
  checkValues(ds, {
    ...PATIENT_FIELDS,
    ...ORDER_FIELDS,
    ...protocolFields,
    '00080050': accessionField,
    '00321032': requesting,
    '0020000D': studyField,
    '00401001': requestedField,
    '00400100/0/00080060': sectionField,
    '00400100/0/00400001': stationField,
    '00400100/0/00400009': stepField,
    '00400100/0/00400002': where!,
    '00400100/0/00400003': where!,
  });
  return ds;
}

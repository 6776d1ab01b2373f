// The synthetic archive the bulk loaders write (SQLite ./sqlite/bulk.ts, PostgreSQL
// ./postgres/bulk.ts): one patient's finished rows at a time — counts and computed study
// attributes included — in the index's column names, without their keys, which each backend
// assigns its own way. One generator, so both backends hold the same data for a seed and
// their query benchmarks compare like with like. Deterministic for a given seed.

import { foldName } from './fold.js';
import {
  ADJUNCTS,
  FAMILY_NAMES,
  GIVEN_NAMES,
  PHYSICIANS,
  ageAt,
  epochOf,
  pick,
  pickModality,
  prng,
  randomDate,
  randomTime,
} from './synthetic.js';
import { joinSorted } from './write-params.js';

export type Row = Record<string, string | number | null>;

export interface SyntheticShape {
  studiesPerPatient: number;
  seriesPerStudy: number;
  instancesPerSeries: number;
}

export interface SyntheticContext {
  readonly rand: () => number;
  readonly seed: number;
  /** UID root: 2.25 is the UUID-derived arc; these are synthetic and only need to be unique per seed. */
  readonly root: string;
  readonly now: number;
  readonly shape: SyntheticShape;
  accession: number;
  /** Instances made so far (their checksums count up). */
  instances: number;
}

export interface SyntheticSeries {
  row: Row;
  instances: Row[];
}
export interface SyntheticStudy {
  row: Row;
  bytes: number;
  series: SyntheticSeries[];
}
export interface SyntheticPatient {
  patient: Row;
  studies: SyntheticStudy[];
}

export function syntheticContext(seedOption: number | undefined, shape: SyntheticShape): SyntheticContext {
  const seed = Math.abs(Math.trunc(seedOption ?? 1));
  return { rand: prng(seed), seed, root: `2.25.9${seed}`, now: Date.now(), shape, accession: 0, instances: 0 };
}

export const PATIENT_COLUMNS = ['patient_id', 'issuer_of_patient_id', 'patient_name', 'patient_name_fold', 'patient_birth_date',
  'patient_sex', 'num_studies', 'num_series', 'num_instances', 'created_at', 'updated_at'];
export const STUDY_COLUMNS = ['patient_fk', 'study_instance_uid', 'study_date', 'study_time', 'accession_number', 'study_id',
  'study_description', 'referring_physician_name', 'referring_physician_name_fold', 'patient_age', 'patient_size',
  'patient_weight', 'modalities_in_study', 'sop_classes_in_study', 'num_series', 'num_instances', 'size_bytes',
  'last_received_at', 'created_at', 'updated_at'];
export const SERIES_COLUMNS = ['study_fk', 'series_instance_uid', 'modality', 'series_number', 'series_date', 'series_time',
  'series_description', 'body_part_examined', 'protocol_name', 'station_name', 'institution_name', 'manufacturer',
  'manufacturer_model_name', 'frame_of_reference_uid', 'performed_procedure_step_start_date',
  'performed_procedure_step_start_time', 'patient_position', 'contrast_bolus_agent', 'num_instances', 'size_bytes',
  'last_received_at', 'created_at', 'updated_at'];
export const INSTANCE_COLUMNS = ['series_fk', 'sop_instance_uid', 'sop_class_uid', 'instance_number', 'content_date', 'content_time',
  'acquisition_date', 'acquisition_time', 'acquisition_number', 'number_of_frames', 'rows', 'columns',
  'bits_allocated', 'photometric_interpretation', 'image_type', 'echo_numbers', 'receive_coil_name', 'slice_location',
  'image_id', 'samples_per_pixel', 'bits_stored', 'specific_character_set', 'path', 'size',
  'transfer_syntax_uid', 'checksum', 'received_at', 'calling_ae', 'called_ae', 'remote_address', 'source',
  'created_at', 'updated_at'];


/** Patient number p (0-based) of the context's seed, with its studies, series and instances. */
export function syntheticPatient(ctx: SyntheticContext, p: number): SyntheticPatient {
  const { rand, seed, root, now } = ctx;
  const { studiesPerPatient: nStudies, seriesPerStudy: nSeries, instancesPerSeries: nInstances } = ctx.shape;
  const birth = randomDate(rand, 1930, 2020);
  const name = `${pick(rand, FAMILY_NAMES)}^${pick(rand, GIVEN_NAMES)}${rand() < 0.2 ? `^${pick(rand, GIVEN_NAMES)}` : ''}`;
  const patient: Row = {
    patient_id: `SYN${seed}-${String(p + 1).padStart(7, '0')}`,
    issuer_of_patient_id: rand() < 0.1 ? 'HOSPITAL-B' : '',
    patient_name: name,
    patient_name_fold: foldName(name),
    patient_birth_date: birth,
    patient_sex: rand() < 0.49 ? 'M' : rand() < 0.98 ? 'F' : 'O',
    num_studies: nStudies,
    num_series: nStudies * nSeries,
    num_instances: nStudies * nSeries * nInstances,
    created_at: now,
    updated_at: now,
  };
  const studies: SyntheticStudy[] = [];
  for (let st = 0; st < nStudies; st++) {
    const studyUID = `${root}.${p + 1}.${st + 1}`;
    const date = randomDate(rand, Math.max(2005, Number(birth.slice(0, 4))), 2025);
    const time = randomTime(rand);
    const at = epochOf(date, time);
    const primary = pickModality(rand);
    const profiles = Array.from({ length: nSeries }, (_, se) =>
      nSeries > 1 && se === nSeries - 1 && rand() < 0.3 ? pick(rand, ADJUNCTS) : primary,
    );
    const sizes = profiles.map((m) => (m.rows > 0 ? m.rows * m.columns * 2 + 4096 : 20_000));
    const studyBytes = sizes.reduce((sum, s) => sum + s * nInstances, 0);
    const physician = pick(rand, PHYSICIANS);
    const study: Row = {
      study_instance_uid: studyUID,
      study_date: date,
      study_time: time,
      accession_number: `A${seed}${String(++ctx.accession).padStart(8, '0')}`,
      study_id: String(st + 1),
      study_description: pick(rand, primary.descriptions),
      referring_physician_name: physician,
      referring_physician_name_fold: foldName(physician),
      patient_age: ageAt(birth, date),
      patient_size: (1.5 + rand() * 0.45).toFixed(2),
      patient_weight: String(45 + Math.floor(rand() * 70)),
      modalities_in_study: joinSorted(profiles.map((m) => m.modality)),
      sop_classes_in_study: nInstances > 0 ? joinSorted(profiles.map((m) => m.sopClass)) : '',
      num_series: nSeries,
      num_instances: nSeries * nInstances,
      size_bytes: studyBytes,
      last_received_at: at,
      created_at: now,
      updated_at: now,
    };
    const seriesOut: SyntheticSeries[] = [];
    studies.push({ row: study, bytes: studyBytes, series: seriesOut });
    profiles.forEach((m, se) => {
      const seriesUID = `${studyUID}.${se + 1}`;
      const size = sizes[se] ?? 0;
      const series: Row = {
        series_instance_uid: seriesUID,
        modality: m.modality,
        series_number: String(se + 1),
        series_date: date,
        series_time: time,
        series_description: pick(rand, m.descriptions),
        body_part_examined: m.bodyParts.length > 0 ? pick(rand, m.bodyParts) : null,
        protocol_name: m.rows > 0 ? `${m.modality} routine` : null,
        station_name: `${m.modality}0${1 + Math.floor(rand() * 3)}`,
        institution_name: 'Synthetic General Hospital',
        manufacturer: pick(rand, ['ACME Medical', 'Imaginary Systems', 'Nowhere Imaging']),
        manufacturer_model_name: pick(rand, ['Model A', 'Model B', 'Model C']),
        frame_of_reference_uid: m.rows > 0 ? `${seriesUID}.0` : null,
        performed_procedure_step_start_date: date,
        performed_procedure_step_start_time: time,
        patient_position: m.modality === 'CT' || m.modality === 'MR' || m.modality === 'PT' ? 'HFS' : null,
        // Not drawn from rand(): the rest of a seed's data stays what it was before these columns.
        contrast_bolus_agent: m.modality === 'CT' && (p + st) % 3 === 0 ? 'Iohexol' : null,
        num_instances: nInstances,
        size_bytes: size * nInstances,
        last_received_at: at,
        created_at: now,
        updated_at: now,
      };
      const instances: Row[] = [];
      seriesOut.push({ row: series, instances });
      for (let i = 0; i < nInstances; i++) {
        const sopUID = `${seriesUID}.${i + 1}`;
        const image = m.rows > 0;
        const sectional = m.modality === 'CT' || m.modality === 'MR';
        instances.push({
          sop_instance_uid: sopUID,
          sop_class_uid: m.sopClass,
          instance_number: String(i + 1),
          content_date: date,
          content_time: time,
          acquisition_date: image ? date : null,
          acquisition_time: image ? time : null,
          acquisition_number: image ? '1' : null,
          number_of_frames: null,
          rows: image ? m.rows : null,
          columns: image ? m.columns : null,
          bits_allocated: image ? (m.modality === 'US' ? 8 : 16) : null,
          photometric_interpretation: image ? (m.modality === 'US' ? 'RGB' : 'MONOCHROME2') : null,
          image_type: image ? 'ORIGINAL\\PRIMARY' : null,
          echo_numbers: m.modality === 'MR' ? '1' : null,
          receive_coil_name: m.modality === 'MR' ? 'HEAD 32' : null,
          slice_location: sectional ? (i * 5).toFixed(1) : null,
          image_id: null,
          samples_per_pixel: image ? (m.modality === 'US' ? 3 : 1) : null,
          bits_stored: image ? (m.modality === 'US' ? 8 : 12) : null,
          specific_character_set: 'ISO_IR 192',
          path: `${studyUID}/${seriesUID}/${sopUID}.dcm`,
          size,
          transfer_syntax_uid: '1.2.840.10008.1.2.1',
          checksum: (++ctx.instances).toString(16).padStart(64, '0'),
          received_at: at,
          calling_ae: `${m.modality}_SCANNER`,
          called_ae: 'PACS',
          remote_address: '192.0.2.10',
          source: 'import',
          created_at: now,
          updated_at: now,
        });
      }
    });
  }
  return { patient, studies };
}


// Which column holds which DICOM attribute, per level. Every backend uses the same names (the
// PostgreSQL migrations mirror the SQLite ones) and the query layer turns C-FIND/QIDO keys into
// SQL with these maps, so a keyword is spelled as a column in exactly one place.
// `satisfies` makes the compiler fail when an attribute is added to types.ts without a column.

import type { InstanceAttributes, PatientAttributes, SeriesAttributes, StudyAttributes } from './types.js';

export const PATIENT_COLUMNS = {
  PatientID: 'patient_id',
  IssuerOfPatientID: 'issuer_of_patient_id', // '' when absent: it is part of the patient key
  PatientName: 'patient_name',
  PatientBirthDate: 'patient_birth_date',
  PatientSex: 'patient_sex',
} as const satisfies Record<keyof PatientAttributes, string>;

export const STUDY_COLUMNS = {
  StudyInstanceUID: 'study_instance_uid',
  StudyDate: 'study_date',
  StudyTime: 'study_time',
  AccessionNumber: 'accession_number',
  StudyID: 'study_id',
  StudyDescription: 'study_description',
  ReferringPhysicianName: 'referring_physician_name',
  PatientAge: 'patient_age',
  PatientSize: 'patient_size',
  PatientWeight: 'patient_weight',
} as const satisfies Record<keyof StudyAttributes, string>;

export const SERIES_COLUMNS = {
  SeriesInstanceUID: 'series_instance_uid',
  Modality: 'modality',
  SeriesNumber: 'series_number',
  SeriesDate: 'series_date',
  SeriesTime: 'series_time',
  SeriesDescription: 'series_description',
  BodyPartExamined: 'body_part_examined',
  ProtocolName: 'protocol_name',
  StationName: 'station_name',
  InstitutionName: 'institution_name',
  Manufacturer: 'manufacturer',
  ManufacturerModelName: 'manufacturer_model_name',
  FrameOfReferenceUID: 'frame_of_reference_uid',
  PerformedProcedureStepStartDate: 'performed_procedure_step_start_date',
  PerformedProcedureStepStartTime: 'performed_procedure_step_start_time',
  PatientPosition: 'patient_position', // these two from migration 2
  ContrastBolusAgent: 'contrast_bolus_agent',
} as const satisfies Record<keyof SeriesAttributes, string>;

export const INSTANCE_COLUMNS = {
  SOPInstanceUID: 'sop_instance_uid',
  SOPClassUID: 'sop_class_uid',
  InstanceNumber: 'instance_number',
  ContentDate: 'content_date',
  ContentTime: 'content_time',
  AcquisitionDate: 'acquisition_date',
  AcquisitionTime: 'acquisition_time',
  AcquisitionNumber: 'acquisition_number',
  NumberOfFrames: 'number_of_frames',
  Rows: 'rows', // ROWS is an SQL keyword: always write it quoted ("rows")
  Columns: 'columns', // quoted too, for symmetry and for dialects that reserve it
  BitsAllocated: 'bits_allocated',
  PhotometricInterpretation: 'photometric_interpretation',
  ImageType: 'image_type',
  EchoNumbers: 'echo_numbers', // these six from migration 2
  ReceiveCoilName: 'receive_coil_name',
  SliceLocation: 'slice_location',
  ImageID: 'image_id',
  SamplesPerPixel: 'samples_per_pixel',
  BitsStored: 'bits_stored',
} as const satisfies Record<keyof InstanceAttributes, string>;

/**
 * Computed columns the query layer answers from (C-FIND's NumberOf…Related…, ModalitiesInStudy,
 * SOPClassesInStudy) and the folded person names it matches case-insensitively against.
 */
export const COMPUTED_COLUMNS = {
  patients: {
    PatientNameFold: 'patient_name_fold',
    NumberOfPatientRelatedStudies: 'num_studies',
    NumberOfPatientRelatedSeries: 'num_series',
    NumberOfPatientRelatedInstances: 'num_instances',
  },
  studies: {
    ReferringPhysicianNameFold: 'referring_physician_name_fold',
    NumberOfStudyRelatedSeries: 'num_series',
    NumberOfStudyRelatedInstances: 'num_instances',
    ModalitiesInStudy: 'modalities_in_study',
    SOPClassesInStudy: 'sop_classes_in_study',
  },
  series: {
    NumberOfSeriesRelatedInstances: 'num_instances',
  },
} as const;

/** A column name as it must appear in SQL (quoted, so keywords like "rows" are safe). */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

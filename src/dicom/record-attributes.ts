// The attributes an instance's index record keeps, read from each dataset as it streams past
// (Conquest's dicom.sql and more). Down here, not in the store service, because the
// configuration's checks need them too: a storage.naming template can only use these.
export const PATIENT = ['PatientID', 'IssuerOfPatientID', 'PatientName', 'PatientBirthDate', 'PatientSex'] as const;
export const STUDY = [
  'StudyInstanceUID', 'StudyDate', 'StudyTime', 'AccessionNumber', 'StudyID', 'StudyDescription',
  'ReferringPhysicianName', 'PatientAge', 'PatientSize', 'PatientWeight',
] as const;
export const SERIES = [
  'SeriesInstanceUID', 'Modality', 'SeriesNumber', 'SeriesDate', 'SeriesTime', 'SeriesDescription',
  'BodyPartExamined', 'ProtocolName', 'StationName', 'InstitutionName', 'Manufacturer',
  'ManufacturerModelName', 'FrameOfReferenceUID', 'PerformedProcedureStepStartDate', 'PerformedProcedureStepStartTime',
  'PatientPosition', 'ContrastBolusAgent',
] as const;
export const INSTANCE_TEXT = [
  'SOPInstanceUID', 'SOPClassUID', 'InstanceNumber', 'ContentDate', 'ContentTime', 'AcquisitionDate',
  'AcquisitionTime', 'AcquisitionNumber', 'NumberOfFrames', 'PhotometricInterpretation', 'ImageType',
  'EchoNumbers', 'ReceiveCoilName', 'SliceLocation', 'ImageID',
] as const;
export const INSTANCE_NUMBERS = ['Rows', 'Columns', 'BitsAllocated', 'SamplesPerPixel', 'BitsStored'] as const;

/** Every keyword the record keeps, at any level: what a file name can be made of. */
export const RECORD_KEYWORDS: ReadonlySet<string> = new Set<string>([...PATIENT, ...STUDY, ...SERIES, ...INSTANCE_TEXT, ...INSTANCE_NUMBERS]);

// InstanceRecords for the index contract: every attribute filled, a few of them overridable, so
// each test states only what it is about.

import type { InstanceRecord, Text } from '../../src/index/types.js';

export const CT = '1.2.840.10008.5.1.4.1.1.2';
export const MR = '1.2.840.10008.5.1.4.1.1.4';
export const SR = '1.2.840.10008.5.1.4.1.1.88.22';

export interface RecordSpec {
  sop: string;
  series?: string;
  study?: string;
  patientId?: string;
  issuer?: Text;
  patientName?: Text;
  referringPhysician?: Text;
  studyDescription?: Text;
  seriesDescription?: Text;
  modality?: Text;
  sopClass?: string;
  size?: number;
  path?: string;
  receivedAt?: Date;
}

export function record(spec: RecordSpec): InstanceRecord {
  const study = spec.study ?? '1.2.3.1';
  const series = spec.series ?? `${study}.1`;
  return {
    specificCharacterSet: 'ISO_IR 192',
    patient: {
      PatientID: spec.patientId ?? 'PID1',
      IssuerOfPatientID: spec.issuer ?? null,
      PatientName: spec.patientName === undefined ? 'Doe^Jane' : spec.patientName,
      PatientBirthDate: '19700101',
      PatientSex: 'F',
    },
    study: {
      StudyInstanceUID: study,
      StudyDate: '20240102',
      StudyTime: '101500',
      AccessionNumber: 'ACC1',
      StudyID: '1',
      StudyDescription: spec.studyDescription === undefined ? 'CT HEAD' : spec.studyDescription,
      ReferringPhysicianName: spec.referringPhysician === undefined ? 'House^Gregory' : spec.referringPhysician,
      PatientAge: '054Y',
      PatientSize: '1.70',
      PatientWeight: '65',
    },
    series: {
      SeriesInstanceUID: series,
      Modality: spec.modality === undefined ? 'CT' : spec.modality,
      SeriesNumber: '1',
      SeriesDate: '20240102',
      SeriesTime: '101600',
      SeriesDescription: spec.seriesDescription === undefined ? 'AXIAL 5mm' : spec.seriesDescription,
      BodyPartExamined: 'HEAD',
      ProtocolName: 'Head routine',
      StationName: 'CT01',
      InstitutionName: 'Test Hospital',
      Manufacturer: 'ACME',
      ManufacturerModelName: 'Scanner 1',
      FrameOfReferenceUID: `${series}.0`,
      PerformedProcedureStepStartDate: '20240102',
      PerformedProcedureStepStartTime: '101000',
      PatientPosition: 'HFS',
      ContrastBolusAgent: 'Iohexol 350',
    },
    instance: {
      SOPInstanceUID: spec.sop,
      SOPClassUID: spec.sopClass ?? CT,
      InstanceNumber: '1',
      ContentDate: '20240102',
      ContentTime: '101700',
      AcquisitionDate: '20240102',
      AcquisitionTime: '101650',
      AcquisitionNumber: '1',
      NumberOfFrames: null,
      Rows: 512,
      Columns: 512,
      BitsAllocated: 16,
      PhotometricInterpretation: 'MONOCHROME2',
      ImageType: 'ORIGINAL\\PRIMARY\\AXIAL',
      EchoNumbers: '1\\2',
      ReceiveCoilName: 'HEAD 32',
      SliceLocation: '-12.5',
      ImageID: 'IMG1',
      SamplesPerPixel: 1,
      BitsStored: 12,
    },
    file: {
      path: spec.path ?? `${study}/${series}/${spec.sop}.dcm`,
      size: spec.size ?? 1000,
      transferSyntaxUID: '1.2.840.10008.1.2.1',
      checksum: 'ab'.repeat(32),
    },
    provenance: { callingAE: 'STORESCU', calledAE: 'PACS', remoteAddress: '127.0.0.1', source: 'dimse' },
    receivedAt: spec.receivedAt ?? new Date('2024-01-02T10:17:00.000Z'),
  };
}

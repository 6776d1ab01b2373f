// Synthetic Part 10 files for benchmarks and load tests: CT-like images of a chosen size, each
// a distinct instance of one study per patient, written with our own writer.
import fs from 'node:fs';
import path from 'node:path';
import { encodeDataset, encodeText, encodeUS } from '../src/dicom/writer.js';
import { encodeFileMetaInformation } from '../src/dicom/part10.js';
import { Tag } from '../src/dicom/tags.js';
import { TS } from '../src/dicom/transfer-syntax.js';
import { IMPLEMENTATION_CLASS_UID } from '../src/net/acse.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const ROOT = '2.25.99887766';

export interface SyntheticOptions {
  dir: string;
  count: number;
  rows: number;
  columns: number;
  /** Instances per series; a new study every `seriesPerStudy` series (default 10). */
  perSeries?: number;
  seriesPerStudy?: number;
  /** Distinguishes the UIDs of different sets written in one run. */
  set: number;
}

/** Writes `count` files and returns their paths. Pixel data is shared, headers differ. */
export function writeSyntheticCT(o: SyntheticOptions): string[] {
  fs.mkdirSync(o.dir, { recursive: true });
  const pixels = Buffer.alloc(o.rows * o.columns * 2);
  for (let i = 0; i < pixels.length; i += 2) pixels.writeUInt16LE((i * 7) & 0x0fff, i);
  const per = o.perSeries ?? 100;
  const opts = { explicitVR: true, littleEndian: true };
  const files: string[] = [];
  const run = `${ROOT}.${process.pid}.${o.set}`;
  for (let i = 0; i < o.count; i++) {
    const series = Math.floor(i / per);
    const study = Math.floor(series / (o.seriesPerStudy ?? 10));
    const sop = `${run}.1.${i + 1}`;
    const studyUid = `${run}.2.${study + 1}`;
    const seriesUid = `${studyUid}.${series + 1}`;
    const ds = encodeDataset(
      [
        { tag: Tag.SpecificCharacterSet, vr: 'CS', value: encodeText('ISO_IR 100', 'CS') },
        { tag: Tag.SOPClassUID, vr: 'UI', value: encodeText(CT, 'UI') },
        { tag: Tag.SOPInstanceUID, vr: 'UI', value: encodeText(sop, 'UI') },
        // Varied per study, so that queries by date, modality and name select subsets.
        { tag: Tag.StudyDate, vr: 'DA', value: encodeText(`2025${String((study % 12) + 1).padStart(2, '0')}${String((study % 28) + 1).padStart(2, '0')}`, 'DA') },
        { tag: Tag.Modality, vr: 'CS', value: encodeText(study % 3 === 0 ? 'MR' : 'CT', 'CS') },
        { tag: Tag.PatientName, vr: 'PN', value: encodeText(`${['SMITH', 'JONES', 'MULLER', 'GARCIA', 'NGUYEN'][study % 5]}^PATIENT${study}`, 'PN') },
        { tag: Tag.PatientID, vr: 'LO', value: encodeText(`BENCH${study}`, 'LO') },
        { tag: Tag.StudyInstanceUID, vr: 'UI', value: encodeText(studyUid, 'UI') },
        { tag: Tag.SeriesInstanceUID, vr: 'UI', value: encodeText(seriesUid, 'UI') },
        { tag: Tag.SeriesNumber, vr: 'IS', value: encodeText(String(series + 1), 'IS') },
        { tag: Tag.InstanceNumber, vr: 'IS', value: encodeText(String((i % per) + 1), 'IS') },
        { tag: 0x00280002, vr: 'US', value: encodeUS(1) },
        { tag: Tag.PhotometricInterpretation, vr: 'CS', value: encodeText('MONOCHROME2', 'CS') },
        { tag: Tag.Rows, vr: 'US', value: encodeUS(o.rows) },
        { tag: Tag.Columns, vr: 'US', value: encodeUS(o.columns) },
        { tag: Tag.BitsAllocated, vr: 'US', value: encodeUS(16) },
        { tag: 0x00280101, vr: 'US', value: encodeUS(12) },
        { tag: 0x00280102, vr: 'US', value: encodeUS(11) },
        { tag: 0x00280103, vr: 'US', value: encodeUS(0) },
      ],
      opts,
    );
    const pixelHeader = Buffer.alloc(12);
    pixelHeader.writeUInt16LE(0x7fe0, 0);
    pixelHeader.writeUInt16LE(0x0010, 2);
    pixelHeader.write('OW', 4, 'latin1');
    pixelHeader.writeUInt32LE(pixels.length, 8);
    const meta = encodeFileMetaInformation({
      mediaStorageSOPClassUID: CT,
      mediaStorageSOPInstanceUID: sop,
      transferSyntaxUID: TS.ExplicitVRLittleEndian,
      implementationClassUID: IMPLEMENTATION_CLASS_UID,
      implementationVersionName: 'PACS_BENCH',
    });
    const file = path.join(o.dir, `${String(i + 1).padStart(6, '0')}.dcm`);
    fs.writeFileSync(file, Buffer.concat([meta, ds, pixelHeader, pixels]));
    files.push(file);
  }
  return files;
}

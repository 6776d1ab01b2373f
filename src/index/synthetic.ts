// Made-up but plausible archive contents for the bulk loader: names with accents and shared
// family names (so wildcard queries match many rows, as in a real archive), dates spread over
// twenty years, a modality mix like a general hospital's. Deterministic for a given seed.

/** mulberry32: a small, fast, seedable PRNG; quality is ample for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(rand: () => number, items: readonly T[]): T => {
  const item = items[Math.floor(rand() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
};

export const FAMILY_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Martínez', 'López',
  'González', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Pérez',
  'Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weiß', 'Köhler', 'Dupont', 'Lefèvre', 'Moreau', 'Girard',
  'Rossi', 'Russo', 'Ferrari', 'Esposito', 'Novák', 'Dvořák', 'Černá', 'Kowalski', 'Wiśniewski', 'Łukasik',
  'Nielsen', 'Jørgensen', 'Andersson', 'Öberg', 'Virtanen', 'Nieminen', 'O\'Brien', 'MacDonald', 'Nguyen', 'Tran',
  'Kim', 'Park', 'Tanaka', 'Suzuki', 'Wang', 'Li', 'Zhang', 'Silva', 'Santos', 'Oliveira',
] as const;

export const GIVEN_NAMES = [
  'James', 'Mary', 'John', 'Patricia', 'Robert', 'Jennifer', 'Michael', 'Linda', 'David', 'Élise',
  'Anna', 'Jürgen', 'Zoë', 'François', 'Chloé', 'José', 'María', 'Søren', 'Åsa', 'Björn',
  'Giulia', 'Marco', 'Jiří', 'Zuzana', 'Piotr', 'Agnieszka', 'Mei', 'Hiroshi', 'Yuki', 'Minh',
] as const;

export const PHYSICIANS = [
  'House^Gregory', 'Grey^Meredith', 'Kildare^James', 'Quinn^Michaela', 'Ross^Doug',
  'Carter^John', 'Benton^Peter', 'Lewis^Susan', 'Ortega^Inés', 'Brandt^Käthe',
] as const;

interface ModalityProfile {
  modality: string;
  weight: number;
  sopClass: string;
  rows: number;
  columns: number;
  bodyParts: readonly string[];
  descriptions: readonly string[];
}

// Weights roughly after the share of studies per modality in a general hospital.
export const MODALITIES: readonly ModalityProfile[] = [
  { modality: 'CR', weight: 25, sopClass: '1.2.840.10008.5.1.4.1.1.1', rows: 2500, columns: 2048, bodyParts: ['CHEST', 'HAND', 'KNEE', 'SPINE'], descriptions: ['XR CHEST PA/LAT', 'XR HAND 3 VIEWS', 'XR KNEE'] },
  { modality: 'DX', weight: 15, sopClass: '1.2.840.10008.5.1.4.1.1.1.1', rows: 3000, columns: 2500, bodyParts: ['CHEST', 'PELVIS', 'ANKLE'], descriptions: ['DX CHEST', 'DX PELVIS AP', 'DX ANKLE'] },
  { modality: 'CT', weight: 20, sopClass: '1.2.840.10008.5.1.4.1.1.2', rows: 512, columns: 512, bodyParts: ['HEAD', 'CHEST', 'ABDOMEN', 'PELVIS'], descriptions: ['CT HEAD W/O CONTRAST', 'CT CHEST W CONTRAST', 'CT ABD/PELVIS'] },
  { modality: 'MR', weight: 15, sopClass: '1.2.840.10008.5.1.4.1.1.4', rows: 256, columns: 256, bodyParts: ['BRAIN', 'KNEE', 'LSPINE', 'SHOULDER'], descriptions: ['MRI BRAIN W/WO', 'MRI KNEE', 'MRI L-SPINE'] },
  { modality: 'US', weight: 12, sopClass: '1.2.840.10008.5.1.4.1.1.6.1', rows: 600, columns: 800, bodyParts: ['ABDOMEN', 'THYROID', 'BREAST'], descriptions: ['US ABDOMEN', 'US THYROID', 'US OB'] },
  { modality: 'MG', weight: 6, sopClass: '1.2.840.10008.5.1.4.1.1.1.2', rows: 4096, columns: 3328, bodyParts: ['BREAST'], descriptions: ['MAMMO SCREENING BILATERAL'] },
  { modality: 'XA', weight: 3, sopClass: '1.2.840.10008.5.1.4.1.1.12.1', rows: 1024, columns: 1024, bodyParts: ['HEART'], descriptions: ['CORONARY ANGIOGRAPHY'] },
  { modality: 'NM', weight: 2, sopClass: '1.2.840.10008.5.1.4.1.1.20', rows: 128, columns: 128, bodyParts: ['WHOLEBODY'], descriptions: ['NM BONE SCAN'] },
  { modality: 'PT', weight: 2, sopClass: '1.2.840.10008.5.1.4.1.1.128', rows: 200, columns: 200, bodyParts: ['WHOLEBODY'], descriptions: ['PET/CT FDG WHOLE BODY'] },
];

/** Series that a reading adds to a study of another modality: reports, key images. */
export const ADJUNCTS: readonly ModalityProfile[] = [
  { modality: 'SR', weight: 1, sopClass: '1.2.840.10008.5.1.4.1.1.88.22', rows: 0, columns: 0, bodyParts: [], descriptions: ['Report'] },
  { modality: 'KO', weight: 1, sopClass: '1.2.840.10008.5.1.4.1.1.88.59', rows: 0, columns: 0, bodyParts: [], descriptions: ['Key images'] },
  { modality: 'PR', weight: 1, sopClass: '1.2.840.10008.5.1.4.1.1.11.1', rows: 0, columns: 0, bodyParts: [], descriptions: ['Annotations'] },
];

const TOTAL_WEIGHT = MODALITIES.reduce((sum, m) => sum + m.weight, 0);

export function pickModality(rand: () => number): ModalityProfile {
  let r = rand() * TOTAL_WEIGHT;
  for (const m of MODALITIES) {
    r -= m.weight;
    if (r < 0) return m;
  }
  return pick(rand, MODALITIES);
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** A DICOM DA (YYYYMMDD) between two years, inclusive. */
export function randomDate(rand: () => number, fromYear: number, toYear: number): string {
  const start = Date.UTC(fromYear, 0, 1);
  const end = Date.UTC(toYear, 11, 31);
  const d = new Date(start + Math.floor(rand() * ((end - start) / 86_400_000 + 1)) * 86_400_000);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}`;
}

/** A DICOM TM (HHMMSS) in working hours, mostly. */
export function randomTime(rand: () => number): string {
  const h = rand() < 0.85 ? 7 + Math.floor(rand() * 12) : Math.floor(rand() * 24);
  return `${pad(h, 2)}${pad(Math.floor(rand() * 60), 2)}${pad(Math.floor(rand() * 60), 2)}`;
}

/** PatientAge (AS) at a study date from a birth date, both DA. */
export function ageAt(birthDate: string, studyDate: string): string {
  const years = Number(studyDate.slice(0, 4)) - Number(birthDate.slice(0, 4));
  const adjusted = studyDate.slice(4) < birthDate.slice(4) ? years - 1 : years;
  return `${pad(Math.max(0, adjusted), 3)}Y`;
}

/** ms since the epoch of a DA + TM, as if received right after acquisition. */
export function epochOf(date: string, time: string): number {
  return Date.UTC(
    Number(date.slice(0, 4)),
    Number(date.slice(4, 6)) - 1,
    Number(date.slice(6, 8)),
    Number(time.slice(0, 2)),
    Number(time.slice(2, 4)),
    Number(time.slice(4, 6)),
  );
}

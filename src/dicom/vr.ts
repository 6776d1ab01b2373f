// Value Representations (PS3.5 6.2): which exist, which take a 4-byte length in explicit VR,
// which are text and which of those the Specific Character Set applies to.

export const ALL_VRS = [
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL',
  'OV', 'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US',
  'UT', 'UV',
] as const;

export type VR = (typeof ALL_VRS)[number];

/** Explicit VR elements of these VRs have 2 reserved bytes then a 4-byte length (PS3.5 7.1.2). */
export const LONG_LENGTH_VRS: ReadonlySet<string> = new Set([
  'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV',
]);

/** Text VRs whose bytes follow the Specific Character Set (PS3.5 6.1.2.3); the rest are ASCII. */
export const CHARSET_VRS: ReadonlySet<string> = new Set(['SH', 'LO', 'ST', 'LT', 'UC', 'UT', 'PN']);

/** Text VRs whose leading spaces are significant (PS3.5 6.2: only trailing padding is not). */
export const LEADING_SPACE_VRS: ReadonlySet<string> = new Set(['LT', 'ST', 'UT', 'UR']);

/** Every VR whose value is character data. */
export const TEXT_VRS: ReadonlySet<string> = new Set([
  'AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT',
]);

/**
 * The two VR bytes of an explicit VR header as one number (first byte high), mapped to the VR
 * and its header form. The reader looks headers up here instead of building a string per element.
 */
export const VR_BY_CODE: ReadonlyMap<number, { readonly vr: VR; readonly long: boolean }> = new Map(
  ALL_VRS.map((vr) => [(vr.charCodeAt(0) << 8) | vr.charCodeAt(1), { vr, long: LONG_LENGTH_VRS.has(vr) }]),
);

// The one shape every dicom/ module uses for a read or to-be-written element value.

/** An element's raw value bytes, in the byte order of the dataset they came from. */
export interface ElementValue {
  readonly tag: number;
  readonly vr: string;
  readonly bytes: Buffer;
}

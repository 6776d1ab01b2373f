// Types for dicom-character-set (it ships none): the parts the server uses.
declare module 'dicom-character-set' {
  export interface ConvertOptions {
    /** The VR of the text: tells the decoder which delimiters reset the character set. */
    vr?: string;
  }
  /**
   * Decodes DICOM text. `specificCharacterSet` is the raw (0008,0005) value, backslashes
   * included. Throws on an unknown character set or a bad escape sequence.
   */
  export function convertBytes(specificCharacterSet: string | undefined, bytes: Uint8Array, options?: ConvertOptions): string;
  export function convertBytesPromise(
    specificCharacterSet: string | undefined,
    bytes: Uint8Array,
    options?: ConvertOptions,
  ): Promise<string>;
  export const characterSets: Record<string, unknown>;
}

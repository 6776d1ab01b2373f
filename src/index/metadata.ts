// Prepared WADO-RS metadata (each instance's DICOM JSON text, made by services/metadata.ts)
// kept in the index beside the instance rows: after a restart a series' metadata is one query
// for all its instances instead of one small file read per instance. A cache: each text
// carries the checksum of the file it was made from, and the service checks it.

export interface MetadataTextStore {
  get(sopInstanceUID: string): Promise<string | null>;
  /** The texts of those of the instances that have one, in one read. */
  getMany(sopInstanceUIDs: readonly string[]): Promise<Map<string, string>>;
  /** Adds or replaces the text of an instance. */
  put(sopInstanceUID: string, text: string): Promise<void>;
  remove(sopInstanceUID: string): Promise<void>;
}

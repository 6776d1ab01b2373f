// Where the metadata service keeps each instance's prepared DICOM JSON (WADO-RS metadata), so
// that a series' metadata is served by joining prepared texts instead of parsing every file
// on every request. Entries are keyed by SOP Instance UID and carry the checksum of the file
// they were made from: a stale entry (the instance was replaced) is simply made again.
// The server keeps them in the index (index/metadata.ts, table instance_metadata): a series
// after a restart is one query. (Until migration 7 they were one small file per instance under
// <storage>/.metadata; an archive from then keeps that folder, unused: it can be deleted.)

export interface MetadataCache {
  get(sopInstanceUID: string): Promise<string | null>;
  /** The entries of those of the instances that have one (a series at once). */
  getMany(sopInstanceUIDs: readonly string[]): Promise<Map<string, string>>;
  put(sopInstanceUID: string, text: string): Promise<void>;
  remove(sopInstanceUID: string): Promise<void>;
}

// DICOM TLS and HTTPS settings from the configuration's tls section, read once at start-up:
// the files are loaded here so that a missing or unreadable one stops the start with the key
// that names it, rather than failing at the first connection.
import fs from 'node:fs';
import type tls from 'node:tls';
import { PacsError } from './core/errors.js';
import type { TlsConfig } from './config/schema.js';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
  ca: Buffer | undefined;
}

function read(key: keyof TlsConfig, file: string | undefined): Buffer {
  if (!file) throw new PacsError('CONFIG_INVALID', `tls.${key}: required when tls.enabled is true`);
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new PacsError('CONFIG_INVALID', `tls.${key}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** The certificate, key and trusted CAs, or null when TLS is off. */
export function loadTls(c: TlsConfig): TlsMaterial | null {
  if (!c.enabled) return null;
  return { key: read('key_path', c.key_path), cert: read('cert_path', c.cert_path), ca: c.ca_path ? read('ca_path', c.ca_path) : undefined };
}

/** Our side as a server (DICOM TLS listener, HTTPS): TLS 1.2 or later, client certificates when required. */
export function serverOptions(m: TlsMaterial, requireClientCert: boolean): tls.TlsOptions {
  return {
    key: m.key,
    cert: m.cert,
    ...(m.ca ? { ca: m.ca } : {}),
    minVersion: 'TLSv1.2',
    requestCert: requireClientCert,
    rejectUnauthorized: requireClientCert,
  };
}

/**
 * Our side as a client (C-MOVE, send, forward, commitment reports to nodes with `tls: true`):
 * the peer's certificate must chain to tls.ca_path (or the system's CAs) and name its host; we
 * present our own certificate, for peers that require one.
 */
export function clientOptions(m: TlsMaterial): tls.ConnectionOptions {
  return { key: m.key, cert: m.cert, ...(m.ca ? { ca: m.ca } : {}), minVersion: 'TLSv1.2' };
}

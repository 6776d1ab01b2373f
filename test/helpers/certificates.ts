// Certificates for TLS tests, made by openssl: a CA, and a server and a client certificate it
// signs (server names: localhost and 127.0.0.1), as ca.crt, server.crt/key, client.crt/key.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { run } from './dcmtk.js';

export async function makeCertificates(dir: string): Promise<void> {
  const ssl = async (...args: string[]): Promise<void> => {
    const r = await run('openssl', args, { cwd: dir });
    assert.equal(r.code, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  };
  fs.writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName = DNS:localhost, IP:127.0.0.1\nextendedKeyUsage = serverAuth, clientAuth\n');
  await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=pacs-test-ca');
  for (const name of ['server', 'client']) {
    await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? 'localhost' : 'pacs-test-client'}`);
    await ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', 'san.cnf');
  }
}

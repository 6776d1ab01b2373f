// Running DCMTK's tools in tests: always with TCP_NODELAY=1 (else Nagle's algorithm adds 40 ms
// per message), never through a shell.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, TCP_NODELAY: '1' }, cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A port for a peer we start ourselves. Taken outside the kernel's ephemeral range (where
 * port-0 listeners and outgoing connections land), so no other process of the run can grab
 * it between this check and the peer binding it.
 */
export async function freePort(): Promise<number> {
  const bindable = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if (await bindable(port)) return port;
  }
  throw new Error('no free port between 20000 and 30000');
}

/** Waits until something accepts TCP connections on the port. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
}

/** Starts a long-running DCMTK server (storescp, dcmqrscp) and waits for its port. */
export async function startDaemon(cmd: string, args: readonly string[], port: number, cwd?: string): Promise<ChildProcess> {
  const child = spawn(cmd, args, { env: { ...process.env, TCP_NODELAY: '1' }, cwd, stdio: 'ignore' });
  await waitForPort(port);
  return child;
}

export const SAMPLES = process.env.DICOM_SAMPLES ?? new URL('../../../../shared/dicom-samples/', import.meta.url).pathname;

export interface ManifestRow {
  file: string;
  sopClass: string;
  transferSyntax: string;
  expected: 'accept' | 'reject';
  oddities: string;
}

export async function manifest(): Promise<ManifestRow[]> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(`${SAMPLES}/MANIFEST.tsv`, 'utf8');
  const [header, ...rows] = text.trim().split('\n');
  const cols = header!.split('\t');
  const at = (r: string[], name: string): string => r[cols.indexOf(name)] ?? '';
  return rows.map((line) => {
    const r = line.split('\t');
    return { file: at(r, 'file'), sopClass: at(r, 'sop_class'), transferSyntax: at(r, 'transfer_syntax'), expected: at(r, 'expected') as 'accept' | 'reject', oddities: at(r, 'oddities') };
  });
}

/**
 * A storescu association profile (-xf FILE Default) proposing, for each file, exactly its SOP
 * class in exactly its transfer syntax — so compressed files are sent as they are, not
 * decompressed by storescu (which cannot decode most of them) — as `storescu -R` does for
 * uncompressed ones.
 */
export async function storescuProfile(files: readonly string[], dir: string): Promise<string[]> {
  const { readPart10Header } = await import('../../src/dicom/part10.js');
  const { writeFile } = await import('node:fs/promises');
  const pairs = new Map<string, { sopClass: string; ts: string }>();
  for (const f of files) {
    const h = await readPart10Header(f);
    if (h.sopClassUID) pairs.set(`${h.sopClassUID}|${h.transferSyntaxUID}`, { sopClass: h.sopClassUID, ts: h.transferSyntaxUID });
  }
  const list = [...pairs.values()];
  const tsNames = [...new Set(list.map((p) => p.ts))];
  const lines = ['[[TransferSyntaxes]]'];
  tsNames.forEach((ts, i) => lines.push(`[TS${i}]`, `TransferSyntax1 = ${ts}`));
  lines.push('[[PresentationContexts]]', '[Contexts]');
  list.forEach((p, i) => lines.push(`PresentationContext${i + 1} = ${p.sopClass}\\TS${tsNames.indexOf(p.ts)}`));
  lines.push('[[Profiles]]', '[Default]', 'PresentationContexts = Contexts');
  const file = `${dir}/storescu-profile.cfg`;
  await writeFile(file, lines.join('\n') + '\n');
  return ['-xf', file, 'Default'];
}

/**
 * A storescp profile (-xf FILE Default) accepting each SOP class of `files` in every transfer
 * syntax they use: storescp +xa leaves some out (JPEG Lossless Process 14 among them).
 */
export async function storescpProfile(files: readonly string[], dir: string): Promise<string[]> {
  const { readPart10Header } = await import('../../src/dicom/part10.js');
  const { writeFile } = await import('node:fs/promises');
  const bySop = new Map<string, Set<string>>();
  for (const f of files) {
    const h = await readPart10Header(f);
    if (!h.sopClassUID) continue;
    bySop.set(h.sopClassUID, (bySop.get(h.sopClassUID) ?? new Set()).add(h.transferSyntaxUID));
  }
  bySop.set('1.2.840.10008.1.1', new Set(['1.2.840.10008.1.2.1', '1.2.840.10008.1.2'])); // Verification
  const lines = ['[[TransferSyntaxes]]'];
  const classes = [...bySop.entries()];
  classes.forEach(([, tss], i) => lines.push(`[TS${i}]`, ...[...tss].map((ts, j) => `TransferSyntax${j + 1} = ${ts}`)));
  lines.push('[[PresentationContexts]]', '[Contexts]');
  classes.forEach(([sop], i) => lines.push(`PresentationContext${i + 1} = ${sop}\\TS${i}`));
  lines.push('[[Profiles]]', '[Default]', 'PresentationContexts = Contexts');
  const file = `${dir}/storescp-profile.cfg`;
  await writeFile(file, lines.join('\n') + '\n');
  return ['-xf', file, 'Default'];
}

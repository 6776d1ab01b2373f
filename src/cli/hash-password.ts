// pacs hash-password: the "scrypt$N$r$p$SALT$HASH" form of a password for http.users (or
// access_control.user_identity.users) in the configuration, so the file need not hold it in clear. The password comes from standard input
// (one line), never from the command line where ps and shell history would show it.
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../core/passwords.js';
import { UsageError } from './args.js';

export const hashPasswordHelp =
  'usage: pacs hash-password < FILE   (or type it, then Enter)\n\n' +
  'Reads one password line from standard input and prints the scrypt$N$r$p$SALT$HASH to put in\n' +
  'http.users[].password (or access_control.user_identity.users[].password) of the configuration.\n' +
  'Each check of it takes 16 MiB and about 0.2 s of CPU (scrypt N=2^14, r=8, p=5).\n';

async function readLine(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password: ');
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

export async function hashPasswordCommand(argv: string[]): Promise<number> {
  if (argv.length) throw new UsageError('hash-password takes no arguments: give the password on standard input');
  const password = await readLine();
  if (!password) throw new UsageError('hash-password: the password is empty');
  process.stdout.write(`${hashPassword(password, randomBytes(16))}\n`);
  return 0;
}

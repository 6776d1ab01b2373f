// The DICOMweb servers we send to (issue 6: a rule's forward action by STOW-RS). Only the
// configuration file knows them: unlike known nodes they cannot be added at run time, so a
// rule naming one that is not here is a configuration error, reported with the others.
import { z } from 'zod';

const NAME_ERROR = 'expected a name of letters, digits, _ . - (up to 64)';
const URL_ERROR = 'expected the http:// or https:// URL of the DICOMweb service (STOW-RS goes to <url>/studies), e.g. https://lab.example/dicom-web';
const MAX_SECONDS = 86_400;

const text = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}, not empty` });
const int = (min: number, max: number, def: number, unit: string) => {
  const error = `expected an integer from ${min} to ${max}${unit}`;
  return z.int({ error }).min(min, { error }).max(max, { error }).default(def);
};

// Credentials go into the Authorization header, a token as it is. Node refuses a header value
// with a line break (ERR_INVALID_CHAR) and a YAML | block ends with one: refused here, such a
// value would otherwise fail every request, as a retried network error. In user names and
// passwords (sent in base64) a control character is as surely a mistake.
// eslint-disable-next-line no-control-regex -- finding the control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Beyond Latin-1 (surrogates included): not in a header either. */
const WIDE = /[\u0100-\uffff]/;
const credential = (what: string) =>
  text(what).refine((v) => !CONTROL.test(v), {
    error: `expected ${what} without line breaks or other control characters (a YAML | or > block ends with a line break: write |- or >-, or a quoted string)`,
  });

/** The service's base URL without a trailing slash: "<url>/studies" is where STOW-RS posts. */
const serviceUrl = z
  .string({ error: URL_ERROR })
  .trim()
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol) && !new URL(v).search && !new URL(v).hash && !new URL(v).username, {
    error: `${URL_ERROR}; no query, fragment or user name in it (credentials go in username/password or token)`,
    params: { got: true },
  })
  .transform((v) => v.replace(/\/+$/, ''));

export const dicomwebServerSchema = z
  .strictObject(
    {
      /** What rules name in `forward: { dicomweb: NAME }`. */
      name: z.string({ error: NAME_ERROR }).regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: NAME_ERROR }),
      url: serviceUrl,
      /** HTTP Basic authentication (with password). */
      username: credential('a user name').optional(),
      password: credential('a password').optional(),
      /** A bearer token (Authorization: Bearer …), instead of username and password. */
      token: credential('a token')
        .refine((v) => !WIDE.test(v), { error: 'expected a token of characters an HTTP header can carry (ASCII)' })
        .optional(),
      /** A request fails when the server sends or takes nothing for this long, or its begun answer takes longer in all (then it is retried). */
      timeout: z
        .number({ error: `expected a number of seconds greater than 0, up to ${MAX_SECONDS}` })
        .gt(0, { error: `expected a number of seconds greater than 0, up to ${MAX_SECONDS}` })
        .max(MAX_SECONDS, { error: `expected a number of seconds greater than 0, up to ${MAX_SECONDS}` })
        .default(60),
      /** CA certificates (PEM) that the server's certificate must chain to; unset: the system's. */
      ca_path: text('a file path').optional(),
      /** false accepts any certificate (a test server with a self-signed one): never in production. */
      reject_unauthorized: z.boolean({ error: 'expected true or false' }).default(true),
      /** A study goes in several requests: at most this many instances… */
      max_instances_per_request: int(1, 10_000, 100, ''),
      /** …and about this many megabytes each (a larger instance goes alone). */
      max_request_mb: int(1, 65_536, 64, ' MB'),
    },
    { error: 'expected a DICOMweb server: name, url, and optionally username/password or token, timeout, ca_path' },
  )
  .superRefine((s, ctx) => {
    if ((s.username === undefined) !== (s.password === undefined)) {
      const missing = s.username === undefined ? 'username' : 'password';
      ctx.addIssue({ code: 'custom', path: [missing], message: `required with ${missing === 'username' ? 'password' : 'username'} (HTTP Basic authentication)` });
    }
    if (s.token !== undefined && s.username !== undefined)
      ctx.addIssue({ code: 'custom', path: ['token'], message: 'give either token (Bearer) or username and password (Basic), not both' });
  });

export type DicomwebServer = z.output<typeof dicomwebServerSchema>;

export const dicomwebServersSchema = z.array(dicomwebServerSchema, { error: 'expected a list of DICOMweb servers' }).default([]);

type Ctx = z.core.$RefinementCtx<unknown>;
type Loose = Record<string, unknown>;
const obj = (v: unknown): Loose => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : {});

/**
 * Names are unique, and every forward action with `dicomweb:` names one of them. Runs on the
 * unvalidated whole (see crossCheck in schema.ts): types are checked as it goes.
 */
export function checkDicomwebReferences(root: Loose, ctx: Ctx): void {
  const servers = Array.isArray(root.dicomweb_servers) ? root.dicomweb_servers : [];
  const names = new Map<string, number>();
  servers.forEach((s: unknown, i) => {
    const name = obj(s).name;
    if (typeof name !== 'string') return;
    const first = names.get(name);
    if (first === undefined) names.set(name, i);
    else ctx.addIssue({ code: 'custom', path: ['dicomweb_servers', i, 'name'], message: `duplicate name "${name}" (also dicomweb_servers[${first}])` });
  });
  if (!Array.isArray(root.rules)) return;
  root.rules.forEach((rule: unknown, i) => {
    const actions = obj(rule).actions;
    if (!Array.isArray(actions)) return;
    actions.forEach((action: unknown, j) => {
      const target = obj(action).dicomweb;
      if (obj(action).type !== 'forward' || typeof target !== 'string' || names.has(target)) return;
      const known = [...names.keys()];
      ctx.addIssue({
        code: 'custom',
        path: ['rules', i, 'actions', j, 'dicomweb'],
        message: `"${target}" is not the name of a DICOMweb server (${known.length ? `dicomweb_servers has ${known.join(', ')}` : 'dicomweb_servers is empty'})`,
      });
    });
  });
}

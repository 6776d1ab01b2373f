// What a path (or a job's list) may name: one patient, study, series or instance, exactly. The
// index is queried with C-FIND matching, where '*' and '?' are wildcards, a backslash separates
// alternatives and an empty value matches everything: /api/studies/%20 answered the whole
// archive and DELETE /api/studies/A%5CB deleted two studies. The query layer has no literal
// mode, so values that C-FIND would read as more than one are refused here, by schema (a 400
// problem that names the parameter, and the rule shown in the OpenAPI document).

/** A UID as the store accepts one (services/instance-record.ts): digits and dots. */
export const UID_PATTERN = '^[0-9]+(\\.[0-9]+)*$';
/** A Patient ID (LO): at least one non-space character, none of * ? \ (a pattern, a list). */
export const ID_PATTERN = '^(?=.*\\S)[^*?\\\\]+$';

export const uidSchema = { type: 'string', maxLength: 64, pattern: UID_PATTERN, description: 'one UID (digits and dots), matched exactly' } as const;
/**
 * A row id (a job, a worklist entry): bounded, or a PostgreSQL bigint parameter refuses
 * 99999999999999999999 with an error the client saw as a 500, not as the 404 it is.
 */
export const rowIdParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } } } as const;
export const patientIdSchema = { type: 'string', maxLength: 64, pattern: ID_PATTERN, description: 'one Patient ID, matched exactly (no *, ? or \\; not blank)' } as const;

const UID_RE = new RegExp(UID_PATTERN);
const ID_RE = new RegExp(ID_PATTERN);

/** Whether a value names exactly one entity of this level (a Patient ID at PATIENT, a UID below). */
export const isExactIdentifier = (level: string, value: string): boolean => (level === 'PATIENT' ? ID_RE.test(value) && value.length <= 64 : UID_RE.test(value) && value.length <= 64);

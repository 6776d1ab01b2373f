// The version printed by --version and sent nowhere else (the implementation version name on
// the wire is fixed in net/acse.ts).
export const VERSION = '0.1.0';

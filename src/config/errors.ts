// The one error the configuration layer throws. It carries every problem found, not just the
// first, so a person fixes their file in one pass.
import { PacsError } from '../core/errors.js';

export class ConfigError extends PacsError {
  /** One line per problem, each naming the key (or flag) and what is wrong. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    const list = problems.length > 0 ? problems : ['invalid configuration'];
    super('CONFIG_INVALID', `invalid configuration:\n${list.map((p) => `  - ${p}`).join('\n')}`, options);
    this.name = 'ConfigError';
    this.problems = Object.freeze([...list]);
  }
}

// One AbortSignal for work that several things can end (a retrieve: its association, a
// C-CANCEL, its destination's association). AbortSignal.any does this from Node 20.3, but it
// gives no way to unhook from a long-lived signal (an association serving thousands of
// operations); dispose() here does.
import { PacsError } from './errors.js';

export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** Unhooks from the sources (the work is done); the signal stays as it is. */
  dispose(): void;
}

/** A signal aborted, with its reason, as soon as any of `sources` is (at once if one already is). */
export function linkSignals(...sources: (AbortSignal | undefined)[]): LinkedSignal {
  const controller = new AbortController();
  const live = sources.filter((s): s is AbortSignal => s !== undefined);
  const already = live.find((s) => s.aborted);
  if (already) {
    controller.abort(already.reason);
    return { signal: controller.signal, dispose: () => {} };
  }
  const onAbort = (e: Event): void => {
    controller.abort((e.target as AbortSignal).reason);
    dispose();
  };
  const dispose = (): void => {
    for (const s of live) s.removeEventListener('abort', onAbort);
  };
  for (const s of live) s.addEventListener('abort', onAbort, { once: true });
  return { signal: controller.signal, dispose };
}

/** The error for work given up because of `signal`: ABORTED, naming why when the reason says. */
export function abortedBy(signal: AbortSignal, what: string): PacsError {
  const why = signal.reason instanceof Error ? signal.reason.message : '';
  return new PacsError('ABORTED', `${what} given up${why ? `: ${why}` : ''}`);
}

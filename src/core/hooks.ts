// Named, ordered hook lists (as fastify does): plugins and policies add a function that runs
// at a point of the pipeline and may refuse by throwing a PacsError.

export interface Hook<T> {
  name: string;
  run: (payload: T) => void | Promise<void>;
}

export class HookList<T> {
  private hooks: Hook<T>[] = [];

  add(name: string, run: Hook<T>['run'], position: { before?: string } = {}): void {
    if (this.hooks.some((h) => h.name === name)) throw new Error(`hook ${name} is already registered`);
    const i = position.before ? this.hooks.findIndex((h) => h.name === position.before) : -1;
    if (i >= 0) this.hooks.splice(i, 0, { name, run });
    else this.hooks.push({ name, run });
  }

  remove(name: string): void {
    this.hooks = this.hooks.filter((h) => h.name !== name);
  }

  get size(): number {
    return this.hooks.length;
  }

  /** Runs every hook in order; the first that throws stops the rest and its error propagates. */
  async run(payload: T): Promise<void> {
    for (const h of this.hooks) await h.run(payload);
  }
}

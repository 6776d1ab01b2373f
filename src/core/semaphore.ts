// At most N async sections at once; the others wait their turn, first come first served.
export class Semaphore {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /**
   * Takes a slot, for a section that does not end where it began (what it holds is handed on
   * and given back later): the function returned gives the slot back, once however often called.
   */
  async acquire(): Promise<() => void> {
    if (this.running < this.limit) this.running++;
    // A slot freed is handed to the next waiter directly, so `running` never dips below it.
    else await new Promise<void>((resolve) => this.queue.push(resolve));
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    };
  }

  async run<T>(section: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await section();
    } finally {
      release();
    }
  }

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }
}

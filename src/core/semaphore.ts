// At most N async sections at once; the others wait their turn, first come first served.
export class Semaphore {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(section: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    // A slot freed is handed to the next waiter directly, so `running` never dips below it.
    else await new Promise<void>((resolve) => this.queue.push(resolve));
    try {
      return await section();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }
}

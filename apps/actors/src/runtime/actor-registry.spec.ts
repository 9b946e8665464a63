import { ActorRegistry, MemoryBudget } from './actor-registry';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ActorRegistry', () => {
  it('runs one actor’s messages one at a time, in order', async () => {
    const reg = new ActorRegistry(() => ({ log: [] as number[] }), {
      maxLiveActors: 10,
      idleMs: 60_000,
      maxConcurrent: 8,
    });
    let running = 0;
    let maxRunning = 0;
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        reg.tell('a', async (actor) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await sleep(5 - i);
          actor.log.push(i);
          running--;
          return actor.log.slice();
        }),
      ),
    );
    expect(maxRunning).toBe(1);
    expect(results[4]).toEqual([1, 2, 3, 4, 5]);
    reg.close();
  });

  it('runs different actors concurrently, bounded by maxConcurrent', async () => {
    const reg = new ActorRegistry(() => ({}), { maxLiveActors: 100, idleMs: 60_000, maxConcurrent: 3 });
    let running = 0;
    let maxRunning = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        reg.tell(`k${i}`, async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await sleep(5);
          running--;
        }),
      ),
    );
    expect(maxRunning).toBe(3);
    reg.close();
  });

  it('a failing message does not block the mailbox', async () => {
    const reg = new ActorRegistry(() => ({}), { maxLiveActors: 10, idleMs: 60_000, maxConcurrent: 2 });
    await expect(reg.tell('a', async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(reg.tell('a', async () => 'ok')).resolves.toBe('ok');
    reg.close();
  });

  it('passivates least recently used idle actors beyond the cap, and re-creates them on demand', async () => {
    let created = 0;
    const reg = new ActorRegistry(() => ({ id: ++created }), {
      maxLiveActors: 2,
      idleMs: 60_000,
      maxConcurrent: 2,
    });
    await reg.tell('a', async () => undefined);
    await reg.tell('b', async () => undefined);
    await reg.tell('a', async () => undefined); // a is now the most recent
    await reg.tell('c', async () => undefined); // b is evicted
    expect(reg.size).toBe(2);
    expect(reg.passivated).toBe(1);
    expect(await reg.tell('a', async (x) => x.id)).toBe(1);
    expect(await reg.tell('b', async (x) => x.id)).toBe(4);
    reg.close();
  });

  it('passivates actors idle longer than idleMs', async () => {
    const reg = new ActorRegistry(() => ({}), { maxLiveActors: 10, idleMs: 300, maxConcurrent: 2 });
    await reg.tell('a', async () => undefined);
    expect(reg.size).toBe(1);
    await sleep(800);
    expect(reg.size).toBe(0);
    reg.close();
  });

  it('passivates least recently used idle actors beyond the memory budget, whatever their count', async () => {
    const memory = new MemoryBudget(1_000);
    const passivated: string[] = [];
    const reg = new ActorRegistry(
      (key) => ({ key, bytes: key === 'big' ? 700 : 300 }),
      { maxLiveActors: 100, idleMs: 60_000, maxConcurrent: 8, memory },
      { weigh: (a) => a.bytes, onPassivate: (key) => passivated.push(key) },
    );
    for (const k of ['a', 'b', 'c']) await reg.tell(k, async () => undefined);
    expect(reg.size).toBe(3);
    expect(memory.used).toBe(900);
    await reg.tell('big', async () => undefined); // 1,600 bytes: the two least recently used go
    expect(passivated).toEqual(['a', 'b']);
    expect(memory.used).toBe(1_000);
    // An actor with work in its mailbox is never passivated, even over the budget.
    let release!: () => void;
    const busy = reg.tell('c', () => new Promise<void>((r) => (release = r)));
    await reg.tell('d', async () => undefined);
    expect(passivated).toEqual(['a', 'b', 'big']);
    release();
    await busy;
    reg.close();
    expect(memory.used).toBe(0);
  });
});

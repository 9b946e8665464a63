import { runInThisContext } from 'node:vm';

/**
 * The real `process` of this OS process. Jest runs each test file in a vm context whose `process`
 * is a copy: listeners added to the copy never fire on exit or signals, and module state is reset
 * per test file. Evaluating `process` in Node's main context reaches the real one.
 */
export function realProcess(): NodeJS.Process {
  return runInThisContext('process') as NodeJS.Process;
}

/** A value shared by every module registry (every test file) in this OS process, created once. */
export function processWide<T>(key: string, create: () => T): T {
  const holder = realProcess() as unknown as Record<symbol, unknown>;
  const sym = Symbol.for(`parley.testing.${key}`);
  if (!(sym in holder)) holder[sym] = create();
  return holder[sym] as T;
}

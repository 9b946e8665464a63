/**
 * Parley's contract for other services: ids, subjects, events, commands, replies and error codes.
 * Every schema here is the one used by Parley itself, so what validates here is accepted there.
 */
export * from './commands';
export * from './errors';
export * from './events';
export * from './ids';
export * from './json';
export * from './limits';
export * from './partitions';
export * from './subjects';

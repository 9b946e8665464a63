export * from './config.module';
export * from './env.schema';
export * from './json-logger';
export * from './parley-config';
export * from './bootstrap';

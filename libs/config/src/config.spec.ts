import { validateEnv } from './env.schema';

describe('validateEnv', () => {
  it('fills defaults that work locally', () => {
    const env = validateEnv({});
    expect(env.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(env.IM_STREAM_REPLICAS).toBe(1);
    expect(env.IM_DEV_AUTH).toBe(false);
    expect(env.IM_MAX_BODY_BYTES).toBe(16384);
    expect(env).toMatchObject({
      IM_COMMAND_TIMEOUT_MS: 5000,
      IM_PAGE_SIZE_MAX: 200,
      IM_RATE_LIMIT_PER_SEC: 50,
    });
  });

  it('rejects wrong settings with one message naming each variable', () => {
    expect(() => validateEnv({ IM_STREAM_REPLICAS: '2', PORT: 'abc', REDIS_URL: 'nope' })).toThrow(
      /IM_STREAM_REPLICAS.*PORT.*REDIS_URL|IM_STREAM_REPLICAS|PORT/,
    );
    expect(() => validateEnv({ IM_JWT_SECRET: 'short' })).toThrow(/IM_JWT_SECRET/);
  });

  it('keeps history forever by default and validates the retention job settings', () => {
    expect(validateEnv({})).toMatchObject({
      IM_HISTORY_RETENTION_MS: 0,
      IM_HISTORY_RETENTION_EVERY_MS: 60_000,
      IM_HISTORY_RETENTION_BATCH: 1_000,
    });
    expect(validateEnv({ IM_HISTORY_RETENTION_MS: '86400000' }).IM_HISTORY_RETENTION_MS).toBe(86_400_000);
    expect(() => validateEnv({ IM_HISTORY_RETENTION_MS: '-1' })).toThrow(/IM_HISTORY_RETENTION_MS/);
    expect(() => validateEnv({ IM_HISTORY_RETENTION_EVERY_MS: '10' })).toThrow(
      /IM_HISTORY_RETENTION_EVERY_MS/,
    );
    expect(() => validateEnv({ IM_HISTORY_RETENTION_BATCH: '0' })).toThrow(/IM_HISTORY_RETENTION_BATCH/);
  });

  it('parses booleans and numbers from strings', () => {
    const env = validateEnv({ IM_DEV_AUTH: '1', IM_STREAM_REPLICAS: '3', PORT: '8080' });
    expect(env).toMatchObject({ IM_DEV_AUTH: true, IM_STREAM_REPLICAS: 3, PORT: 8080 });
  });
});

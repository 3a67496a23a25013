// The test harness itself: the throwaway servers answer and test databases are isolated clones.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeEngines, describeRedis, redisUrl, uniqueRedisPrefix } from './databases.js';

describeEngines('test databases', (engine) => {
  it('are isolated from each other and disposed completely', async () => {
    const a = await createTestDatabase(engine);
    const b = await createTestDatabase(engine);
    try {
      expect(a.url).not.toBe(b.url);
      await a.db.run('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', ['ten_iso', 'iso', 1]);
      expect(await a.db.one('SELECT id FROM tenants WHERE id = $1', ['ten_iso'])).toEqual({ id: 'ten_iso' });
      expect(await b.db.one('SELECT id FROM tenants WHERE id = $1', ['ten_iso'])).toBeUndefined();
    } finally {
      await a.dispose();
      await b.dispose();
    }
    // Disposing twice is harmless.
    await a.dispose();
  });
});

describeRedis('test Redis', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('answers and keeps keys under a unique prefix', async () => {
    await redis.connect();
    const prefix = uniqueRedisPrefix();
    expect(prefix).toMatch(/^vgtest:[0-9a-f]{12}:$/);
    expect(await redis.set(`${prefix}k`, 'v', 'PX', 10_000, 'NX')).toBe('OK');
    expect(await redis.set(`${prefix}k`, 'w', 'PX', 10_000, 'NX')).toBeNull();
    expect(await redis.get(`${prefix}k`)).toBe('v');
  });
});

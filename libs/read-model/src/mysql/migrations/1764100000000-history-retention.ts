import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * History retention (DESIGN §15): `messages.sent_at` indexed, so the retention job deletes the oldest
 * messages by an index range in bounded batches; `conversations.retention_ms`, a conversation's own
 * retention (a group's `retentionMs`, written once `GroupSettingsChanged` is projected; NULL until
 * then), indexed so the job finds the few conversations that have one.
 */
export class HistoryRetention1764100000000 implements MigrationInterface {
  name = 'HistoryRetention1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE `messages` ADD INDEX `idx_messages_sent_at` (`sent_at`)');
    await q.query(
      'ALTER TABLE `conversations` ADD COLUMN `retention_ms` bigint NULL AFTER `created_at`, ' +
        'ADD INDEX `idx_conversations_retention_ms` (`retention_ms`)',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      'ALTER TABLE `conversations` DROP INDEX `idx_conversations_retention_ms`, DROP COLUMN `retention_ms`',
    );
    await q.query('ALTER TABLE `messages` DROP INDEX `idx_messages_sent_at`');
  }
}

import { type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * `messages.recalled_stream_seq`: the stream position of a message's recall, so multi-device sync after a
 * cursor also returns messages recalled after that cursor (their position is the recall's, not the send's).
 */
export class RecallPosition1764000000000 implements MigrationInterface {
  name = 'RecallPosition1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'ALTER TABLE `messages` ADD COLUMN `recalled_stream_seq` bigint NULL AFTER `recalled_at`, ' +
        'ADD INDEX `idx_messages_recalled_stream_seq` (`recalled_stream_seq`)',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      'ALTER TABLE `messages` DROP INDEX `idx_messages_recalled_stream_seq`, DROP COLUMN `recalled_stream_seq`',
    );
  }
}

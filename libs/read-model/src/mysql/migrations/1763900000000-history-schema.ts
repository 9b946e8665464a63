import { type MigrationInterface, type QueryRunner } from 'typeorm';

/** The history schema of DESIGN §6: conversations, members, messages, projection checkpoints. */
export class HistorySchema1763900000000 implements MigrationInterface {
  name = 'HistorySchema1763900000000';

  async up(q: QueryRunner): Promise<void> {
    const id = 'CHARACTER SET ascii COLLATE ascii_bin';
    const table = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';
    await q.query(`CREATE TABLE \`conversations\` (
      \`id\` varchar(140) ${id} NOT NULL,
      \`type\` varchar(8) NOT NULL,
      \`name\` varchar(512) NOT NULL DEFAULT '',
      \`owner\` varchar(64) ${id} NOT NULL DEFAULT '',
      \`owner_version\` bigint NOT NULL DEFAULT 0,
      \`last_seq\` bigint NOT NULL DEFAULT 0,
      \`last_message_at\` datetime(3) NULL,
      \`dissolved_at\` datetime(3) NULL,
      \`created_at\` datetime(3) NOT NULL,
      PRIMARY KEY (\`id\`)
    ) ${table}`);
    await q.query(`CREATE TABLE \`conversation_members\` (
      \`conversation_id\` varchar(140) ${id} NOT NULL,
      \`user_id\` varchar(64) ${id} NOT NULL,
      \`role\` varchar(8) NOT NULL,
      \`join_seq\` bigint NOT NULL,
      \`left_seq\` bigint NULL,
      \`joined_at\` datetime(3) NOT NULL,
      \`version\` bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (\`conversation_id\`, \`user_id\`),
      INDEX \`idx_members_user\` (\`user_id\`)
    ) ${table}`);
    await q.query(`CREATE TABLE \`messages\` (
      \`conversation_id\` varchar(140) ${id} NOT NULL,
      \`seq\` bigint NOT NULL,
      \`stream_seq\` bigint NULL,
      \`sender\` varchar(64) ${id} NULL,
      \`client_msg_id\` varchar(128) ${id} NULL,
      \`kind\` varchar(16) NULL,
      \`body\` mediumtext NULL,
      \`mentions\` text NULL,
      \`sent_at\` datetime(3) NULL,
      \`recalled_at\` datetime(3) NULL,
      PRIMARY KEY (\`conversation_id\`, \`seq\`),
      UNIQUE INDEX \`uq_messages_stream_seq\` (\`stream_seq\`)
    ) ${table}`);
    await q.query(`CREATE TABLE \`projection_checkpoints\` (
      \`name\` varchar(64) NOT NULL,
      \`stream_seq\` bigint NOT NULL,
      PRIMARY KEY (\`name\`)
    ) ${table}`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['projection_checkpoints', 'messages', 'conversation_members', 'conversations']) {
      await q.query(`DROP TABLE \`${t}\``);
    }
  }
}

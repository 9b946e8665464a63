import { type ReadModel } from '@parley/read-model';
import { type LiveInterest } from './live-interest';
import { type LivePresence } from './live-presence';

/** Users whose interest one refresh round reconciles at a time. */
const REFRESH_CONCURRENCY = 16;

/**
 * The periodic reconciliation of each connected user's interest with the read model: picks up
 * memberships changed elsewhere (another gateway, a service on NATS). One round at a time.
 */
export class LiveRefresh {
  private refreshing = false;

  constructor(
    private readonly presence: LivePresence,
    private readonly interest: LiveInterest,
    private readonly readModel: ReadModel,
    /** Interest added this recently is kept even when the read model does not show it yet. */
    private readonly graceMs: number,
  ) {}

  /** One round; failures are counted and reported as one message. */
  async round(): Promise<{ failed: number; lastError: string }> {
    // A round over many users can outlast the interval: never run two at once.
    if (this.refreshing) return { failed: 0, lastError: '' };
    this.refreshing = true;
    const queue = this.presence.entries().map(([uid]) => uid);
    let failed = 0;
    let lastError = '';
    const worker = async () => {
      for (let uid = queue.pop(); uid; uid = queue.pop()) {
        try {
          await this.refreshUser(uid);
        } catch (err) {
          failed++;
          lastError = (err as Error).message;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: REFRESH_CONCURRENCY }, worker));
      return { failed, lastError };
    } finally {
      this.refreshing = false;
    }
  }

  private async refreshUser(uid: string): Promise<void> {
    const p = this.presence.get(uid);
    if (!p) return;
    const current = new Set((await this.readModel.unread(uid)).conversations.map((c) => c.conversationId));
    for (const cid of current) if (!p.conversations.has(cid)) await this.interest.add(uid, cid);
    for (const cid of [...p.conversations]) {
      // Interest added moments ago may be ahead of the projection: keep it for a while.
      if (!current.has(cid) && Date.now() - this.interest.addedAt(uid, cid) > this.graceMs) {
        this.interest.remove(uid, cid);
      }
    }
  }
}

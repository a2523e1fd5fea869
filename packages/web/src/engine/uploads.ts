// Files on their way up, for the progress bar and cancel button under a chat or a group: one
// list per session, each entry keyed by the conversation it goes to (a friend's alias or a
// group id).
import type { OutgoingFile, TransferProgress } from '@parus/client';

export interface Upload {
  key: number;
  /** The friend's alias or the group's id. */
  chat: string;
  name: string;
  progress: TransferProgress;
  controller: AbortController;
}

/** What the engine's file senders take: a way to cancel, and where to report progress. */
export interface UploadHooks {
  signal: AbortSignal;
  onProgress: (p: TransferProgress) => void;
}

export class UploadList {
  private readonly list: Upload[] = [];
  private lastKey = 0;

  constructor(private readonly changed: () => void) {}

  /** Runs SEND for FILE into CHAT, listed (with its progress) until it ends either way. */
  async track<T>(chat: string, file: OutgoingFile, send: (hooks: UploadHooks) => Promise<T>): Promise<T> {
    const upload: Upload = {
      key: ++this.lastKey,
      chat,
      name: file.name,
      progress: { done: 0, total: file.bytes.length },
      controller: new AbortController(),
    };
    this.list.push(upload);
    this.changed();
    try {
      return await send({
        signal: upload.controller.signal,
        onProgress: (p) => {
          upload.progress = p;
          this.changed();
        },
      });
    } finally {
      this.list.splice(this.list.indexOf(upload), 1);
      this.changed();
    }
  }

  /** Cancels every running upload (the session locks). */
  abortAll(): void {
    for (const u of this.list) u.controller.abort();
  }

  /** The uploads into CHAT still running. */
  of(chat: string): readonly Upload[] {
    return this.list.filter((u) => u.chat === chat);
  }
}

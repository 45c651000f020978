/**
 * What keeps slow clients from holding the web chat: every request body gets a read deadline and a
 * minimum rate ({@link watchBody}), and upload slots are shared fairly between client addresses
 * ({@link FairUploadSlots}). Four connections trickling one byte every few seconds used to hold all
 * four upload slots for as long as they liked, so nobody else could search by image.
 */
import type { IncomingMessage } from 'node:http';

/** How fast a request body must arrive. Defaults in {@link BODY_LIMIT_DEFAULTS}. */
export interface BodyLimits {
  /** The whole body must be read within this. */
  deadlineMs: number;
  /** Bytes per second the body must average over each window of `windowMs`. */
  minBytesPerSecond: number;
  /** Window over which the rate is measured (also the grace before the first check). */
  windowMs: number;
}

/**
 * A 8 MiB upload at the minimum rate would take far longer than the deadline; the deadline is what
 * bounds a big upload on a slow line, the rate what ends a trickle early. 60 s covers 8 MiB on a
 * ~1.1 Mbit/s uplink.
 */
export const BODY_LIMIT_DEFAULTS = {
  deadlineMs: 60_000,
  minBytesPerSecond: 1024,
  windowMs: 10_000,
} as const satisfies BodyLimits;

/** Shown to a client whose body was cut off. */
export const SLOW_BODY_MESSAGE =
  'Your message arrived too slowly and was stopped — please try again on a steadier connection.';

/**
 * Calls `onSlow` once when `req`'s body is not complete by the deadline, or a window passes with
 * fewer bytes than the minimum rate allows. Bytes are counted on the socket, so the body stream is
 * left untouched for its reader. Returns a function that stops watching (call it when the body is read).
 */
export function watchBody(req: IncomingMessage, limits: BodyLimits, onSlow: () => void): () => void {
  const socket = req.socket;
  let lastBytes = socket.bytesRead;
  let done = false;
  const slow = () => {
    if (done || req.complete) return stop();
    stop();
    onSlow();
  };
  const deadline = setTimeout(slow, limits.deadlineMs);
  const window = setInterval(() => {
    const bytes = socket.bytesRead;
    if (bytes - lastBytes < (limits.minBytesPerSecond * limits.windowMs) / 1000) slow();
    lastBytes = bytes;
  }, limits.windowMs);
  deadline.unref();
  window.unref();
  function stop() {
    done = true;
    clearTimeout(deadline);
    clearInterval(window);
  }
  return stop;
}

/** One client's view of the upload slots: what readChatInput (./chat-input.ts) takes a slot from. */
export interface UploadSlotGate {
  /** A release function, or undefined at once when no slot is free for this client. */
  tryTake(): Promise<(() => void) | undefined>;
}

/**
 * Uploads read at once (each may buffer up to the upload cap, so this bounds their memory), with at
 * most `perClient` of them from one client address: one address cannot take every slot.
 */
export class FairUploadSlots {
  readonly #max: number;
  readonly #perClient: number;
  #used = 0;
  readonly #byClient = new Map<string, number>();

  /** `perClient` defaults to half the slots (at least one). */
  constructor(max: number, perClient?: number) {
    this.#max = Math.max(1, max);
    this.#perClient = Math.max(1, Math.min(this.#max, perClient ?? Math.floor(this.#max / 2)));
  }

  /** The gate for one request from `address` (undefined: requests without an address share one key). */
  forClient(address: string | undefined): UploadSlotGate {
    return { tryTake: async () => this.#take(address ?? '') };
  }

  #take(client: string): (() => void) | undefined {
    const mine = this.#byClient.get(client) ?? 0;
    if (this.#used >= this.#max || mine >= this.#perClient) return undefined;
    this.#used++;
    this.#byClient.set(client, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#used--;
      const left = (this.#byClient.get(client) ?? 1) - 1;
      if (left <= 0) this.#byClient.delete(client);
      else this.#byClient.set(client, left);
    };
  }
}

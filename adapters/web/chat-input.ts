import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { decodeAction } from '../../src/core/actions.ts';
import type { ImageInput, SearchAction } from '../../src/core/types.ts';
import type { UploadSlotGate } from './upload-limits.ts';

/** One chat message as the browser sends it (multipart form or JSON). */
export interface ChatInput {
  text?: string;
  action?: SearchAction;
  image?: ImageInput;
  followUp: boolean;
  requestId?: string;
}

/** Why a chat post could not be read; `status` is the HTTP status, `message` is shown in the chat. */
export class ChatInputError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ChatInputError';
    this.status = status;
  }
}

const MAX_FIELD_BYTES = 8 * 1024;
const REQUEST_ID = /^[A-Za-z0-9_-]{8,64}$/;

function toInput(fields: Map<string, string>, image?: ImageInput): ChatInput {
  const action = fields.get('action');
  const decoded = action ? decodeAction(action) : undefined;
  const requestId = fields.get('requestId');
  const text = fields.get('text');
  return {
    ...(text !== undefined ? { text } : {}),
    ...(decoded ? { action: decoded } : {}),
    ...(image ? { image } : {}),
    ...(requestId && REQUEST_ID.test(requestId) ? { requestId } : {}),
    followUp: ['1', 'true'].includes(fields.get('followUp') ?? ''),
  };
}

/** How much a chat post may be, and this client's share of the upload slots (./upload-limits.ts). */
export interface ChatInputLimits {
  maxUploadBytes: number;
  uploads: UploadSlotGate;
}

/** Reads a chat post: `multipart/form-data` (fields text/action/followUp/requestId, file `image`) or JSON. */
export async function readChatInput(req: IncomingMessage, limits: ChatInputLimits): Promise<ChatInput> {
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('application/json')) return readJson(req);
  if (!type.startsWith('multipart/form-data')) throw new ChatInputError(415, 'Unsupported request.');
  const release = await limits.uploads.tryTake();
  if (!release) {
    throw new ChatInputError(
      503,
      "I'm busy reading other pictures right now — please send yours again in a moment.",
    );
  }
  try {
    return await readMultipart(req, limits.maxUploadBytes);
  } finally {
    release();
  }
}

function readMultipart(req: IncomingMessage, maxUploadBytes: number): Promise<ChatInput> {
  return new Promise<ChatInput>((resolve, reject) => {
    const fields = new Map<string, string>();
    let image: ImageInput | undefined;
    let tooBig = false;
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        limits: { fileSize: maxUploadBytes, files: 1, fields: 10, fieldSize: MAX_FIELD_BYTES },
      });
    } catch {
      reject(new ChatInputError(400, 'That message could not be read.'));
      return;
    }
    bb.on('field', (name, value) => fields.set(name, value));
    bb.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      // When the upload is cut off busboy destroys this stream with the pipeline's error; the
      // pipeline below already rejects for it, so here it only needs a listener.
      stream.on('error', () => undefined);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => {
        tooBig = true;
      });
      stream.on('end', () => {
        if (name !== 'image' || tooBig || chunks.length === 0) return;
        image = {
          bytes: Buffer.concat(chunks),
          mime: info.mimeType,
          ...(info.filename ? { name: info.filename } : {}),
        };
      });
    });
    bb.on('close', () => {
      if (tooBig) {
        const mb = Math.round(maxUploadBytes / (1024 * 1024));
        reject(new ChatInputError(413, `That image is too big — please send one under ${mb} MB.`));
        return;
      }
      resolve(toInput(fields, image));
    });
    // pipeline, not req.pipe: a client that goes away mid-upload (tab closed, network lost) errors the
    // pipeline, so this request ends now instead of waiting for bytes that never come — and a
    // shutdown does not wait out its grace period for it. A malformed body errors it the same way.
    pipeline(req, bb).catch(() => reject(new ChatInputError(400, 'That message could not be read.')));
  });
}

async function readJson(req: IncomingMessage): Promise<ChatInput> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new ChatInputError(413, 'That message is too long.');
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ChatInputError(400, 'That message could not be read.');
  }
  const fields = new Map<string, string>();
  if (body && typeof body === 'object') {
    for (const [k, v] of Object.entries(body)) {
      if (typeof v === 'string') fields.set(k, v);
      else if (typeof v === 'boolean') fields.set(k, String(v));
    }
  }
  return toInput(fields);
}

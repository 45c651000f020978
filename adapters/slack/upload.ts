/**
 * Image uploads through `filesUploadV2` (files.getUploadURLExternal → POST bytes → files.completeUploadExternal).
 * `files.upload` is retired and base64 is never used: the SDK sends the raw Buffer.
 */
import type { webApi } from '@slack/bolt';

/** Where and how one image is shared. */
export interface ImageUpload {
  channel: string;
  /** Thread root to reply in. Always set here: results live in their thread (see README, "Thread root"). */
  threadTs: string;
  bytes: Buffer;
  fileName: string;
  /** Message text shown with the file (query and credits). */
  comment: string;
  /** Accessibility text for the image. */
  altText?: string;
}

/** Uploads one image into a thread and returns its file id. */
export async function uploadImage(
  client: webApi.WebClient,
  upload: ImageUpload,
): Promise<string | undefined> {
  const result = await client.filesUploadV2({
    channel_id: upload.channel,
    thread_ts: upload.threadTs,
    initial_comment: upload.comment,
    file: upload.bytes,
    filename: upload.fileName,
    title: upload.fileName,
    ...(upload.altText ? { alt_text: upload.altText.slice(0, 1000) } : {}),
  });
  // Shape: { ok, files: [ { ok, files: [ { id, … } ] } ] } — one completion per channel/thread group.
  const completion = result.files[0];
  return completion?.files?.[0]?.id;
}

/**
 * Image uploads through `filesUploadV2` (files.getUploadURLExternal → POST bytes → files.completeUploadExternal).
 * `files.upload` is retired and base64 is never used: the SDK sends the raw Buffer.
 *
 * Two ways to use an upload (see README, "Thread root"):
 * - {@link uploadPrivateImage}: completed WITHOUT a channel, so Slack shares it nowhere; the file id
 *   then goes into an `image` block (`slack_file: { id }`) of the one result message.
 * - {@link shareImage}: completed into a thread, where Slack posts it as its own file message
 *   ("Open n" photos, and the fallback when an image block keeps being refused).
 */
import type { webApi } from '@slack/bolt';

/** The bytes of one image and how they are named. */
export interface ImageFile {
  bytes: Buffer;
  fileName: string;
  /** Accessibility text for the image. */
  altText?: string;
}

/** Where and how one image is shared as a file message. */
export interface ImageShare extends ImageFile {
  channel: string;
  /** Thread root to reply in. Always set here: results live in their thread (see README, "Thread root"). */
  threadTs: string;
  /** Message text shown with the file (query and credits). */
  comment: string;
}

type UploadResult = Awaited<ReturnType<webApi.WebClient['filesUploadV2']>>;

function fileId(result: UploadResult): string | undefined {
  // Shape: { ok, files: [ { ok, files: [ { id, … } ] } ] } — one completion per channel/thread group.
  return result.files[0]?.files?.[0]?.id;
}

function common(file: ImageFile) {
  return {
    file: file.bytes,
    filename: file.fileName,
    title: file.fileName,
    ...(file.altText ? { alt_text: file.altText.slice(0, 1000) } : {}),
  };
}

/**
 * Uploads one image without sharing it anywhere (no `channel_id`): nothing is posted, and the file
 * belongs to the bot until a message references it. Returns its file id.
 */
export async function uploadPrivateImage(client: webApi.WebClient, file: ImageFile): Promise<string> {
  const id = fileId(await client.filesUploadV2(common(file)));
  if (!id) throw new Error('files.completeUploadExternal returned no file id');
  return id;
}

/** Uploads one image into a thread (Slack posts it as a file message there) and returns its file id. */
export async function shareImage(client: webApi.WebClient, share: ImageShare): Promise<string | undefined> {
  return fileId(
    await client.filesUploadV2({
      ...common(share),
      channel_id: share.channel,
      thread_ts: share.threadTs,
      initial_comment: share.comment,
    }),
  );
}

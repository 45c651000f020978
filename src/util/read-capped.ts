/**
 * Reads a fetch body with a running byte count and stops at `maxBytes`: Content-Length can be absent
 * or lie, and an image download must never fill memory. Returns undefined when the cap is passed
 * (the caller raises its own friendly error); the stream is cancelled then.
 */
export async function readCapped(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Buffer | undefined> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** Hand-made image files for failure tests. */

import sharp from 'sharp';

/** A PNG whose IHDR claims a huge size: decoding would need gigabytes. */
export function pngHeaderClaiming(width: number, height: number): Buffer {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  return Buffer.concat([
    sig,
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c;
}

/**
 * An animated image of `frames` frames, each `width` × `pageHeight` and of its own colour:
 * the decoder has to produce width × pageHeight × frames pixels.
 */
export async function animated(
  format: 'gif' | 'webp',
  width: number,
  pageHeight: number,
  frames: number,
): Promise<Buffer> {
  const raw = Buffer.alloc(width * pageHeight * frames * 3);
  for (let f = 0; f < frames; f++) {
    raw.fill(
      Buffer.from([(f * 50) % 256, 100, 200]),
      f * width * pageHeight * 3,
      (f + 1) * width * pageHeight * 3,
    );
  }
  const img = sharp(raw, { raw: { width, height: pageHeight * frames, channels: 3, pageHeight } });
  return (format === 'gif' ? img.gif() : img.webp({ lossless: true })).toBuffer();
}

/**
 * A baseline JPEG of noise whose entropy-coded data has four bytes overwritten halfway through:
 * libjpeg reports "Corrupt JPEG data: bad Huffman code" as a warning and decodes the rest, so
 * the file is readable unless warnings are made fatal.
 */
export async function jpegWithDamagedScan(width = 64, height = 64): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7919) % 251;
  const jpeg = Buffer.from(
    await sharp(raw, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer(),
  );
  const sos = jpeg.lastIndexOf(Buffer.from([0xff, 0xda]));
  if (sos < 0) throw new Error('no SOS marker');
  // FF 00 FF 00 reads as the data bytes FF FF: sixteen 1 bits, never a valid Huffman code.
  jpeg.set([0xff, 0x00, 0xff, 0x00], sos + Math.floor((jpeg.length - sos) / 2));
  return jpeg;
}

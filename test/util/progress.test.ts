import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { startProgress } from '../../src/util/progress.ts';

describe('progress without a terminal', () => {
  it('logs one percentage line per 10 %, with rate and time left, instead of drawing a bar', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()).msg as string);
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    let clock = 0;
    const now = () => clock;
    const p = startProgress({ label: 'model.onnx', total: 1000, unit: 'items', logger, tty: false, now });
    // 50 items a second.
    for (let i = 1; i <= 1000; i++) {
      clock = i * 20;
      p.update(i);
    }
    p.stop();
    expect(lines).toHaveLength(10);
    expect(lines[0]).toBe('model.onnx: 10% (100 of 1000, 50.0/s, ETA 0:18)');
    expect(lines.at(-1)).toBe('model.onnx: 100% (1000 of 1000, 50.0/s, ETA 0:00)');
  });
});

describe('progress on a terminal', () => {
  it('draws a bar with the rate in named items per second and the time left', () => {
    let drawn = '';
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        drawn += chunk.toString();
        done();
      },
    });
    let clock = 0;
    const p = startProgress({
      label: 'Embedding images',
      total: 100,
      unit: 'items',
      itemName: 'images',
      logger: pino({ level: 'silent' }),
      tty: true,
      stream,
      now: () => clock,
    });
    // 16 images in 2 s: 8 images/s, 84 left → 10.5 s.
    clock = 2000;
    p.increment(16);
    p.stop();
    expect(drawn).toContain('16 / 100 | 8.0 images/s | ETA 0:11');
  });
});

import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { startProgress } from '../../src/util/progress.ts';

describe('progress without a terminal', () => {
  it('logs one percentage line per 10 % instead of drawing a bar', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()).msg as string);
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const p = startProgress({ label: 'model.onnx', total: 1000, unit: 'items', logger, tty: false });
    for (let i = 1; i <= 1000; i++) p.update(i);
    p.stop();
    expect(lines).toHaveLength(10);
    expect(lines[0]).toBe('model.onnx: 10% (100 of 1000)');
    expect(lines.at(-1)).toBe('model.onnx: 100% (1000 of 1000)');
  });
});

/**
 * A LanceDB index whose control table names a data table LanceDB would refuse (a damaged or edited
 * manifest) is refused with a worded "damaged" message before LanceDB is asked to open it: LanceDB
 * panics on such names (a native stack trace on stderr) instead of returning an error.
 */
import { describe, expect, it } from 'vitest';
import { connectLance, readControl, writeControl } from '../../src/index/engines/lance-connect.ts';
import { parseIndexLocation } from '../../src/index/location.ts';
import { openIndexWriter, openVectorIndex } from '../../src/index/open.ts';
import { tempDir } from '../support/fixtures.ts';

describe('damaged LanceDB table name', () => {
  it('is a worded index_invalid error naming the damage, for the table and the previous table', async () => {
    const dir = tempDir();
    const writer = await openIndexWriter(dir, { engine: 'lancedb', modelId: 'm', dim: 2 });
    await writer.append([{ id: 'a' }, { id: 'b' }], new Float32Array([1, 0, 0, 1]));
    await writer.commit({});
    const lance = await connectLance(parseIndexLocation(dir));
    const good = (await readControl(lance))!;
    for (const damage of [{ table: 'imagesearch-../../etc' }, { previousTable: 'imagesearch-a/b' }]) {
      await writeControl(lance, { published: { ...good.published!, ...damage } });
      await expect(openVectorIndex(dir)).rejects.toMatchObject({
        code: 'index_invalid',
        userMessage: expect.stringMatching(
          /is damaged \(manifest field "(table|previousTable)" is not a valid table name\).*Rebuild/,
        ),
      });
    }
  });
});

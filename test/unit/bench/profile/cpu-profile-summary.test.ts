// Checks self time is summed per function and per file from a .cpuprofile's samples and time deltas.
import t from 'tap';
import { selfTimes, type CpuProfile } from '../../../../bench/profile/cpu-profile-summary.js';

const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber });

const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)', '', -1) },
    { id: 2, callFrame: frame('feed', 'file:///repo/dist/protocol/framing.js', 68) },
    { id: 3, callFrame: frame('feed', 'file:///repo/dist/protocol/framing.js', 68) },
    { id: 4, callFrame: frame('writev', '', -1) },
    { id: 5, callFrame: frame('', 'file:///repo/dist/protocol/framing.js', 9) },
  ],
  // Sample i lasts until sample i + 1: timeDeltas[i + 1] microseconds.
  samples: [2, 4, 3, 5, 4],
  timeDeltas: [0, 1000, 3000, 2000, 4000],
  startTime: 0,
  endTime: 10_000,
};

t.test('self time per function merges nodes of the same function and charges each sample until the next', async (t) => {
  const rows = selfTimes(profile);
  t.same(
    rows.map((r) => [r.key, r.ms]),
    [
      ['(anonymous) dist/protocol/framing.js:10', 4],
      ['feed dist/protocol/framing.js:69', 3],
      ['writev (native)', 3],
    ],
  );
  t.equal(Math.round(rows.reduce((s, r) => s + r.share, 0) * 1000) / 1000, 1, 'shares add up to the whole');
});

t.test('self time per file', async (t) => {
  const rows = selfTimes(profile, true);
  t.same(
    rows.map((r) => [r.key, r.ms]),
    [
      ['dist/protocol/framing.js', 7],
      ['(native)', 3],
    ],
  );
  t.equal(rows[0]!.share, 0.7);
});

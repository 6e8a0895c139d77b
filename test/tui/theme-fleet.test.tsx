import { Text } from 'ink';
import { render } from 'ink-testing-library';
import { describe, expect, test } from 'vitest';
import { colorEnabled, toneColor } from '../../tui/theme.js';
import { useFleet } from '../../tui/use-fleet.js';
import { FakeFleetSource, fleet } from './fixtures.js';

describe('NO_COLOR', () => {
  test('any non-empty NO_COLOR turns colours off', () => {
    expect(colorEnabled({ NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({})).toBe(true);
    expect(colorEnabled({ NO_COLOR: '' })).toBe(true);
    expect(toneColor({ color: false }, 'bad')).toBeUndefined();
    expect(toneColor({ color: true }, 'bad')).toBe('red');
  });
});

class CountingSource extends FakeFleetSource {
  snapshots = 0;
  override snapshot() {
    this.snapshots++;
    return super.snapshot();
  }
}

function Probe({ source }: { source: FakeFleetSource }) {
  const nodes = useFleet(source, 100);
  return <Text>{nodes.map((n) => n.name).join(',')}</Text>;
}

describe('useFleet', () => {
  test('a burst of changes becomes one snapshot read and one redraw', async () => {
    const source = new CountingSource(fleet());
    const r = render(<Probe source={source} />);
    await new Promise((res) => setTimeout(res, 20));
    const before = source.snapshots;
    const framesBefore = r.frames.length;
    for (let i = 0; i < 20; i++) source.set(fleet().slice(0, 2));
    await new Promise((res) => setTimeout(res, 150));
    expect(source.snapshots - before).toBe(1);
    expect(r.frames.length - framesBefore).toBe(1);
    expect(r.lastFrame()).toBe('gpu01,cpu01');
    r.unmount();
  });
});

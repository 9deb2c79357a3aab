// Tests for FlowControl: which side is paused for what, and that every pause ends when its cause does.
import t from 'tap';
import { FlowControl, overfilled, type FlowServer, type FlowSocket } from '../../../../lib/session/relay/flow-control.js';

const HWM = 16384;
const BOUND = 65536;

/** A socket whose write buffer the test sets, counting pauses and resumes. */
class FakeSocket implements FlowSocket {
  writableLength = 0;
  writableNeedDrain = false;
  readonly writableHighWaterMark = HWM;
  paused = false;
  pauses = 0;

  /** As a write leaves it: over the high-water mark, the write returned false and 'drain' will follow. */
  fill(n: number): void {
    this.writableLength = n;
    this.writableNeedDrain = n >= HWM;
  }

  pause(): void {
    this.paused = true;
    this.pauses++;
  }

  resume(): void {
    this.paused = false;
  }
}

/** Pausing lives in the server connection, as in ServerConnection.pauseReading. */
class FakeServer implements FlowServer {
  readonly socket = new FakeSocket();
  get readingPaused(): boolean {
    return this.socket.paused;
  }
  pauseReading(): void {
    this.socket.pause();
  }
  resumeReading(): void {
    this.socket.resume();
  }
}

t.test('overfilled: above the bound and waiting for drain; never below the high-water mark', async (t) => {
  const s = new FakeSocket();
  s.fill(BOUND);
  t.notOk(overfilled(s, BOUND), 'at the bound is not over it');
  s.fill(BOUND + 1);
  t.ok(overfilled(s, BOUND));
  s.fill(HWM - 1);
  t.notOk(overfilled(s, 4096), 'a bound below the high-water mark: no drain would come, so no pause');
  s.fill(HWM + 1);
  t.ok(overfilled(s, 4096), 'the high-water mark is the least bound');
  s.writableNeedDrain = false;
  t.notOk(overfilled(s, 4096), 'no drain asked for: not paused');
});

t.test('a client that does not read pauses its server; its drain resumes it', async (t) => {
  const client = new FakeSocket();
  const server = new FakeServer();
  const flow = new FlowControl(client);
  client.fill(BOUND);
  flow.relayed(server, BOUND);
  t.notOk(server.readingPaused, 'within the bound, the server is read');
  client.fill(BOUND + 70_000);
  flow.relayed(server, BOUND);
  t.ok(server.readingPaused, 'beyond it, the server is not read');
  flow.relayed(server, BOUND);
  t.equal(server.socket.pauses, 1, 'paused once');
  client.fill(0);
  flow.clientDrained(server);
  t.notOk(server.readingPaused, 'drain resumes it');
  flow.clientDrained(null);
  t.pass('a drain with no server linked does nothing');
});

t.test('the client is paused while its server does not drain, and read again when it does or the link ends', async (t) => {
  const client = new FakeSocket();
  const server = new FakeServer();
  const flow = new FlowControl(client);
  flow.update(0, server, BOUND);
  t.notOk(client.paused);
  server.socket.fill(BOUND * 2);
  flow.update(0, server, BOUND);
  t.ok(client.paused, 'the server socket is overfilled');
  t.ok(flow.paused);
  server.socket.fill(0);
  flow.update(0, server, BOUND);
  t.notOk(client.paused, 'drained: read again');
  server.socket.fill(BOUND * 2);
  flow.update(0, server, BOUND);
  t.ok(client.paused);
  flow.update(0, null, BOUND);
  t.notOk(client.paused, 'unlinked: a full socket of a server no longer linked pauses nothing');
});

t.test('frames waiting for a server beyond the bound pause the client until they leave', async (t) => {
  const client = new FakeSocket();
  const flow = new FlowControl(client);
  flow.update(BOUND, null, BOUND);
  t.notOk(client.paused, 'up to the bound, reading goes on');
  flow.update(BOUND + 1, null, BOUND);
  t.ok(client.paused);
  flow.update(BOUND + 100, null, BOUND);
  t.equal(client.pauses, 1, 'paused once however often it is checked');
  flow.update(0, null, BOUND);
  t.notOk(client.paused, 'sent or cleared: read again');
  flow.update(BOUND + 1, null, BOUND * 2);
  t.notOk(client.paused, 'the bound is read on each check, so a reload applies at once');
});

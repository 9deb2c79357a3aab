// Checks a relayed chunk leaves in one write (corked only when split), and the pooler's own frames keep their place.
import t from 'tap';
import type net from 'node:net';
import { ClientWriter } from '../../../../lib/session/relay/client-writer.js';
import { poolerError } from '../../../../lib/errors.js';
import { parseBackend } from '../../../helpers/bytes.js';

/** Records writes as the client would receive them, and how many syscall-sized writes left. */
class FakeSocket {
  received = Buffer.alloc(0);
  /** Writes that reached the "kernel": each uncorked write, or one per uncork of a non-empty batch. */
  flushes = 0;
  private corks = 0;
  private batched = 0;
  write(b: Buffer): boolean {
    this.received = Buffer.concat([this.received, b]);
    if (this.corks > 0) this.batched++;
    else this.flushes++;
    return true;
  }
  cork(): void {
    this.corks++;
  }
  uncork(): void {
    if (--this.corks === 0 && this.batched > 0) {
      this.flushes++;
      this.batched = 0;
    }
  }
}

function setup() {
  const socket = new FakeSocket();
  return { socket, w: new ClientWriter(socket as unknown as net.Socket) };
}

const chunk = Buffer.from('TTTTDDDDCCCCZZZZZ');

t.test('contiguous pieces of one chunk become a single write of the chunk itself', async (t) => {
  const { socket, w } = setup();
  w.begin();
  w.relay(chunk, 0, 12);
  w.relay(chunk, 12, chunk.length);
  t.equal(socket.flushes, 0, 'nothing written before the chunk ends');
  w.finish();
  t.equal(socket.flushes, 1);
  t.ok(socket.received.equals(chunk));
});

t.test("separate pieces and the pooler's own frames keep their order and still leave in one write", async (t) => {
  const { socket, w } = setup();
  w.begin();
  w.relay(chunk, 0, 4);
  w.relay(chunk, 8, 12); // a piece was kept from the client
  w.send(Buffer.from('!'));
  w.relay(chunk, 12, 17);
  w.finish();
  t.equal(socket.received.toString(), 'TTTTCCCC!ZZZZZ');
  t.equal(socket.flushes, 1, 'corked once a second piece appeared');
});

t.test('outside a relayed chunk, writes go straight out; flush writes what is pending', async (t) => {
  const { socket, w } = setup();
  w.relay(chunk, 0, 4);
  t.equal(socket.received.toString(), 'TTTT');
  w.send(Buffer.from('!'));
  t.equal(socket.flushes, 2);
  w.begin();
  w.relay(chunk, 4, 8);
  w.flush();
  t.equal(socket.received.toString(), 'TTTT!DDDD', 'flush before ending the socket');
  w.finish();
  t.equal(socket.received.toString(), 'TTTT!DDDD', 'nothing written twice');
});

t.test("error writes one ErrorResponse with the pooler error's severity, SQLSTATE, message and detail, after relayed bytes", async (t) => {
  const { socket, w } = setup();
  w.begin();
  w.relay(chunk, 0, 4);
  w.error(poolerError('SLUICE_QUEUE_FULL', { tenant: 'acme', cls: 'default', waitedMs: 10, pool: 'app/alice' }));
  w.finish();
  t.ok(socket.received.subarray(0, 4).equals(chunk.subarray(0, 4)), 'relayed bytes first');
  const [e] = parseBackend(socket.received.subarray(4));
  t.match(e, { name: 'error', code: '53300', severity: 'ERROR' });
  t.match(e, { message: /acme/ });
});

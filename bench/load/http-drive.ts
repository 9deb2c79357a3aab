// Child process: autocannon drives the example HTTP API's victim endpoint at a fixed rate, optionally beside a noisy tenant.
import autocannon from 'autocannon';

/** argv[2] as JSON; the report is one JSON line on stdout. */
export interface HttpDriveSpec {
  baseUrl: string;
  seconds: number;
  victimPath: string;
  victimConnections: number;
  /** Requests per second over all victim connections; latencies are corrected for coordinated omission. */
  victimRate: number;
  /** Absent: the victim runs alone. */
  noisy?: { path: string; connections: number };
  /** Seconds the victim (and the noisy tenant, if any) run unmeasured before the victim's measured run. */
  warmupSeconds: number;
}

export interface HttpSide {
  requests: number;
  rps: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  p50: number;
  p99: number;
  p999: number;
}

export interface HttpDriveReport {
  victim: HttpSide;
  noisy?: HttpSide;
}

type Result = autocannon.Result;

function side(r: Result): HttpSide {
  const l = r.latency;
  return {
    requests: r.requests.total,
    rps: r.requests.average,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    p50: l.p50 ?? NaN,
    p99: l.p99 ?? NaN,
    p999: l.p99_9 ?? NaN,
  };
}

function cannon(opts: autocannon.Options): Promise<Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

async function main(spec: HttpDriveSpec): Promise<HttpDriveReport> {
  const noisyRun = spec.noisy
    ? cannon({ url: spec.baseUrl + spec.noisy.path, connections: spec.noisy.connections, duration: spec.seconds + spec.warmupSeconds })
    : undefined;
  const victim = { url: spec.baseUrl + spec.victimPath, connections: spec.victimConnections, overallRate: spec.victimRate };
  // Unmeasured: the app's connection pools open their connections (SCRAM logins) on first use.
  await cannon({ ...victim, duration: spec.warmupSeconds });
  const measured = await cannon({ ...victim, duration: spec.seconds });
  const noisy = noisyRun ? await noisyRun : undefined;
  return { victim: side(measured), noisy: noisy && side(noisy) };
}

main(JSON.parse(process.argv[2]!) as HttpDriveSpec).then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`http-drive: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);

/**
 * The part of autocannon 9's API that bench/load.ts uses. autocannon ships
 * no typings and @types/autocannon is not a dependency; the shapes follow
 * its README ("Results", hdr-histogram-percentiles-obj).
 */
declare module 'autocannon' {
  interface Histogram {
    readonly average: number;
    readonly mean: number;
    readonly stddev: number;
    readonly min: number;
    readonly max: number;
    readonly total: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly p99_9: number;
  }

  interface Options {
    readonly url: string;
    readonly connections?: number;
    readonly amount?: number;
    readonly duration?: number;
    readonly headers?: Record<string, string>;
    readonly timeout?: number;
  }

  export interface Result {
    readonly requests: Histogram & { readonly sent: number };
    readonly latency: Histogram;
    readonly throughput: Histogram;
    readonly duration: number;
    readonly errors: number;
    readonly timeouts: number;
    readonly mismatches: number;
    readonly non2xx: number;
    readonly '2xx': number;
    readonly statusCodeStats: Record<string, { readonly count: number }>;
  }

  /** The running load, with a 'response' event per answer (its latency in ms last). */
  interface Instance {
    on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): this;
  }

  function autocannon(options: Options): Promise<Result>;
  function autocannon(options: Options, done: (error: Error | null, result: Result) => void): Instance;
  export default autocannon;
}

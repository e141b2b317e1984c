// The part of autocannon's API the load bench uses (the package ships no types).
declare module "autocannon" {
  interface Stats { average: number; total: number; p50: number; p90: number; p99: number; max: number }
  interface Result {
    requests: Stats;
    latency: Stats;
    errors: number;
    timeouts: number;
    non2xx: number;
    duration: number;
    statusCodeStats: Record<string, { count: number }>;
  }
  interface Options {
    url: string;
    headers?: Record<string, string>;
    connections?: number;
    duration?: number;
    overallRate?: number;
    requests?: Array<{ method: string; path: string; body?: string; headers?: Record<string, string> }>;
  }
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}

/**
 * A small client for Prometheus' HTTP API (/api/v1/...), as Grafana and the
 * end-to-end test use it: instant and range queries, label values, targets,
 * rules and metadata.
 *
 * Owns the translation of the API's JSON envelope into values or errors
 * that name the request: a failing query reports the endpoint, the PromQL
 * text and Prometheus' errorType and error. Mirrors the response shapes of
 * https://prometheus.io/docs/prometheus/latest/querying/api/ (2.x).
 */

/** Bound on one API request: a query over a few minutes of data answers in milliseconds. */
const REQUEST_TIMEOUT_MS = 15_000;

export type Labels = Readonly<Record<string, string>>;

export interface InstantSample {
  readonly metric: Labels;
  /** [unix seconds, value as text] */
  readonly value: readonly [number, string];
}

export interface RangeSeries {
  readonly metric: Labels;
  readonly values: readonly (readonly [number, string])[];
}

export interface ActiveTarget {
  readonly labels: Labels;
  readonly scrapeUrl: string;
  readonly health: 'up' | 'down' | 'unknown';
  readonly lastError: string;
  readonly lastScrapeDuration: number;
}

export interface Rule {
  readonly type: 'recording' | 'alerting';
  readonly name: string;
  readonly query: string;
  readonly health: 'ok' | 'err' | 'unknown';
  readonly lastError?: string;
  /** Alerting rules only: inactive, pending or firing. */
  readonly state?: string;
  readonly lastEvaluation: string;
}

export interface RuleGroup {
  readonly name: string;
  readonly file: string;
  readonly rules: readonly Rule[];
  readonly lastEvaluation: string;
}

export interface MetricMetadata {
  readonly type: string;
  readonly help: string;
  readonly unit: string;
}

interface Envelope<T> {
  readonly status: 'success' | 'error';
  readonly data?: T;
  readonly errorType?: string;
  readonly error?: string;
}

type QueryData =
  | { readonly resultType: 'vector'; readonly result: InstantSample[] }
  | { readonly resultType: 'matrix'; readonly result: RangeSeries[] }
  | { readonly resultType: 'scalar' | 'string'; readonly result: readonly [number, string] };

export class PrometheusApi {
  constructor(readonly baseUrl: string) {}

  /** /api/v1/query; a scalar result is returned as one sample without labels. */
  async query(expr: string, time?: number): Promise<InstantSample[]> {
    const data = await this.get<QueryData>('/api/v1/query', { query: expr, ...(time !== undefined && { time: String(time) }) });
    if (data.resultType === 'vector') return data.result;
    if (data.resultType === 'scalar') return [{ metric: {}, value: data.result }];
    throw new Error(`${this.baseUrl}/api/v1/query ${JSON.stringify(expr)}: unexpected result type ${data.resultType}`);
  }

  /** /api/v1/query_range, as a graph panel runs its query. */
  async queryRange(expr: string, start: number, end: number, stepSeconds: number): Promise<RangeSeries[]> {
    const data = await this.get<QueryData>('/api/v1/query_range', {
      query: expr,
      start: String(start),
      end: String(end),
      step: String(stepSeconds),
    });
    if (data.resultType !== 'matrix') {
      throw new Error(`${this.baseUrl}/api/v1/query_range ${JSON.stringify(expr)}: unexpected result type ${data.resultType}`);
    }
    return data.result;
  }

  /** /api/v1/label/<label>/values with match[]: what Grafana's label_values(selector, label) asks. */
  labelValues(label: string, selector: string, start: number, end: number): Promise<string[]> {
    return this.get<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values`, {
      'match[]': selector,
      start: String(start),
      end: String(end),
    });
  }

  async activeTargets(): Promise<ActiveTarget[]> {
    return (await this.get<{ activeTargets: ActiveTarget[] }>('/api/v1/targets', { state: 'active' })).activeTargets;
  }

  async ruleGroups(): Promise<RuleGroup[]> {
    return (await this.get<{ groups: RuleGroup[] }>('/api/v1/rules', {})).groups;
  }

  /** /api/v1/metadata?metric=NAME: the distinct TYPE/HELP/UNIT seen for that family across targets. */
  async metadata(family: string): Promise<MetricMetadata[]> {
    return (await this.get<Record<string, MetricMetadata[]>>('/api/v1/metadata', { metric: family }))[family] ?? [];
  }

  /** True once /-/ready answers 200. */
  async ready(): Promise<boolean> {
    try {
      const response = await fetch(`${this.baseUrl}/-/ready`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      await response.arrayBuffer();
      return response.ok;
    } catch {
      return false;
    }
  }

  private async get<T>(path: string, params: Record<string, string>): Promise<T> {
    const url = `${this.baseUrl}${path}?${new URLSearchParams(params).toString()}`;
    const where = `GET ${this.baseUrl}${path} ${JSON.stringify(params)}`;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}`);
    }
    const body = (await response.json().catch(() => undefined)) as Envelope<T> | undefined;
    if (body?.status !== 'success' || body.data === undefined) {
      const reason = body ? `${body.errorType ?? 'error'}: ${body.error ?? 'no data'}` : 'body is not JSON';
      throw new Error(`${where}: HTTP ${response.status}, ${reason}`);
    }
    return body.data;
  }
}

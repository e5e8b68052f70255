/**
 * A latency histogram with log-spaced buckets (about 2% wide) from 1 µs to ~100 s: constant memory
 * whatever the sample count, mergeable across load processes, and serializable over IPC.
 */

/** Bucket growth factor: each bucket is 2% wider than the previous one. */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** Buckets cover 1 µs .. GROWTH^BUCKETS µs (~ 1e8 µs = 100 s); larger values land in the last. */
const BUCKETS = 930;

/** The plain form sent between processes. */
export interface HistogramData {
  counts: number[];
  count: number;
  sumUs: number;
  maxUs: number;
}

/** See the module comment. Values are recorded in milliseconds and stored in microseconds. */
export class Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sumUs = 0;
  #maxUs = 0;

  /** Records one latency, in milliseconds. */
  record(ms: number): void {
    const us = Math.max(1, ms * 1000);
    const bucket = Math.min(BUCKETS - 1, Math.floor(Math.log(us) / LOG_GROWTH));
    this.#counts[bucket]!++;
    this.#count++;
    this.#sumUs += us;
    if (us > this.#maxUs) this.#maxUs = us;
  }

  get count(): number {
    return this.#count;
  }

  /** Adds another histogram's samples to this one. */
  merge(other: HistogramData): void {
    for (let i = 0; i < BUCKETS; i++) this.#counts[i]! += other.counts[i] ?? 0;
    this.#count += other.count;
    this.#sumUs += other.sumUs;
    this.#maxUs = Math.max(this.#maxUs, other.maxUs);
  }

  /** The value (ms) below which `p` (0..100) percent of the samples fall; the bucket's midpoint. */
  percentile(p: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.ceil((p / 100) * this.#count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        const midUs = Math.pow(GROWTH, i + 0.5);
        return Math.min(midUs, this.#maxUs) / 1000;
      }
    }
    return this.#maxUs / 1000;
  }

  /** Mean, in ms. */
  mean(): number {
    return this.#count === 0 ? NaN : this.#sumUs / this.#count / 1000;
  }

  /** Largest sample, in ms. */
  max(): number {
    return this.#maxUs / 1000;
  }

  toJSON(): HistogramData {
    return { counts: Array.from(this.#counts), count: this.#count, sumUs: this.#sumUs, maxUs: this.#maxUs };
  }

  static from(data: HistogramData): Histogram {
    const histogram = new Histogram();
    histogram.merge(data);
    return histogram;
  }
}

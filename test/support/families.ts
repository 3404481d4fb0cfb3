/**
 * Families written out series by series, as tests spell them, turned into
 * the columnar model (src/exposition/family.ts) the exporter renders.
 */
import { familyOf, type FamilyHead, type MetricFamily, type Series } from '../../src/exposition/family.js';

export interface SeriesFamily extends FamilyHead {
  readonly series: readonly Series[];
}

export function columnar(family: SeriesFamily): MetricFamily {
  return familyOf(family, family.series);
}

export function columnarAll(families: readonly SeriesFamily[]): MetricFamily[] {
  return families.map(columnar);
}

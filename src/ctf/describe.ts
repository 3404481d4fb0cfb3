/**
 * What `kvm_exporter layout` reports for one name, as plain data: every
 * struct/union definition a name denotes, or every typed data symbol of a
 * `var:NAME`. Shared by the JSON and the text output.
 */
import type { CtfContainer } from './container.js';
import { aggregateLayout, type AggregateLayout } from './layout.js';
import { findAggregates, variableTypes } from './query.js';
import { aggregateText } from './text.js';
import { typeText } from './declarator.js';

export interface AggregateReport extends AggregateLayout {
  readonly name: string;
  /** Set when the name is a typedef of the aggregate. */
  readonly typedef?: string;
  readonly file: string;
}

export interface VariableReport {
  readonly kind: 'variable';
  readonly name: string;
  readonly type: string;
  readonly size: number;
  readonly file: string;
}

export type LayoutReport = AggregateReport | VariableReport;

/** A report with its text form (pahole-like for aggregates, a declaration for variables). */
export interface Described {
  readonly report: LayoutReport;
  readonly text: string;
}

const VARIABLE = /^var(?:iable)?[:\s]+(.+)$/;

/** Every report for `spec` in this container; empty when it has none. */
export function describeName(ctf: CtfContainer, file: string, spec: string): Described[] {
  const variable = VARIABLE.exec(spec.trim());
  if (variable) {
    return variableTypes(ctf, variable[1]!).map((v) => ({
      report: { kind: 'variable', name: v.name, type: v.typeText, size: v.size, file },
      text: `${typeText(ctf, v.typeId, v.name)}; /* size: ${v.size} */\n`,
    }));
  }
  return findAggregates(ctf, spec).map(({ name, type, typedef }) => ({
    report: { name: typedef ? name : type.name, ...(typedef ? { typedef } : {}), ...aggregateLayout(ctf, type), file },
    text: aggregateText(ctf, type, typedef),
  }));
}

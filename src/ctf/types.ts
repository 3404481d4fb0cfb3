/**
 * CTF types as the reader hands them out: one decoded record, by kind. A
 * type refers to others by id; the container resolves ids (its own, or its
 * parent's) and decodes each record only when first asked for it.
 */

export type IntKind = 'integer' | 'float';
export type RefKind = 'pointer' | 'typedef' | 'volatile' | 'const' | 'restrict';
export type AggregateKind = 'struct' | 'union';

interface Named {
  readonly id: number;
  /** "" for an anonymous type. */
  readonly name: string;
}

export interface CtfNumber extends Named {
  readonly kind: IntKind;
  readonly size: number;
  /** CTF_INT_SIGNED 0x1, CTF_INT_CHAR 0x2, CTF_INT_BOOL 0x4, CTF_INT_VARARGS 0x8 (integers); the float encoding otherwise. */
  readonly format: number;
  /** Bit offset within the storage unit (ctfconvert writes 0). */
  readonly bitOffset: number;
  /** Width in bits; less than 8 × size for a bit-field's narrowed copy of its base type. */
  readonly bits: number;
}

export interface CtfReference extends Named {
  readonly kind: RefKind;
  readonly target: number;
}

export interface CtfArray extends Named {
  readonly kind: 'array';
  readonly element: number;
  readonly index: number;
  readonly count: number;
}

export interface CtfFunction extends Named {
  readonly kind: 'function';
  readonly returns: number;
  readonly args: readonly number[];
  /** The argument list ends in `...` (a trailing argument id 0). */
  readonly varargs: boolean;
}

export interface CtfAggregate extends Named {
  readonly kind: AggregateKind;
  readonly size: number;
  readonly memberCount: number;
  /** Where the member records start in the body. */
  readonly membersAt: number;
}

export interface CtfEnum extends Named {
  readonly kind: 'enum';
  readonly size: number;
  readonly values: readonly (readonly [string, number])[];
}

export interface CtfForward extends Named {
  readonly kind: 'forward';
  /** v2 forwards record no tag kind: they read as struct (as the v3 libctf does for 0). */
  readonly tag: 'struct' | 'union' | 'enum';
}

export interface CtfUnknown extends Named {
  readonly kind: 'unknown';
}

export type CtfType = CtfNumber | CtfReference | CtfArray | CtfFunction | CtfAggregate | CtfEnum | CtfForward | CtfUnknown;

export interface CtfMember {
  /** "" for a C11 anonymous member, whose own members are then relative to it. */
  readonly name: string;
  readonly type: number;
  /** From the start of the enclosing struct or union, in bits. */
  readonly bitOffset: number;
}

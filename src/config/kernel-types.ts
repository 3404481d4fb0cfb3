/**
 * What the kernel's own type information says, as config resolution asks
 * it: a struct member's offset, size and type by dotted path, and a
 * variable's C type. The CTF reader answers it (src/ctf/kernel-types.ts);
 * the config only knows this interface, so it resolves the same way
 * whatever the source. Resolution order for `field:` is a layout written in
 * the config, then these types, then the preset's layout.
 */
import type { CType } from '../abi.js';

export interface TypeMember {
  readonly offset: number;
  readonly size: number;
  /** C type text, for messages (`counter_u64_t`, `u_int [5]`). */
  readonly typeText: string;
  /** Set when the member is an array: its length and the element size. */
  readonly array?: { readonly count: number; readonly elementSize: number };
  /** counter_u64_t, or an array of it. */
  readonly isCounter: boolean;
  /** The member's C type as a config ctype, when it is an integer or pointer. */
  readonly ctype: CType | undefined;
}

export interface VariableType {
  readonly typeText: string;
  readonly ctype: CType | undefined;
}

export interface KernelTypes {
  /** Where the types come from, for messages and `check`: "CTF of /boot/kernel/kernel". */
  readonly origin: string;
  /**
   * The member at `path` (dotted, nested members allowed) of struct or union
   * `struct`; a message when CTF has the struct but not that member;
   * undefined when CTF does not know the struct at all.
   */
  member(struct: string, path: string): TypeMember | string | undefined;
  /** A data symbol's type; undefined when CTF does not know the symbol. */
  variable(symbol: string): VariableType | undefined;
}

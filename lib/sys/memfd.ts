/** memfd_create(2) raw/checked pair. */
import * as libc from '../ffi/libc.js';
import { check } from './errors.js';

/** Raw memfd_create(2). */
export function __memfdCreate(name: string, flags: number): libc.Raw {
  return libc.memfdCreate(name, flags);
}

/** Checked memfd_create(2): returns the fd. */
export function memfdCreate(name: string, flags: number): number {
  return check('memfd_create', __memfdCreate(name, flags), `flags 0x${flags.toString(16)}`);
}

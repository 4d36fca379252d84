/** fcntl(2) raw/checked pairs: status flags and seals. */
import * as libc from '../ffi/libc.js';
import { F_GETFL, F_ADD_SEALS, F_GET_SEALS } from '../uapi/index.js';
import { check } from './errors.js';

/** Raw fcntl(2) with an integer argument. */
export function __fcntl(fd: number, cmd: number, arg = 0): libc.Raw {
  return libc.fcntl(fd, cmd, arg);
}

/** Checked fcntl(2). */
export function fcntl(fd: number, cmd: number, arg = 0, name = `fcntl(${cmd})`): number {
  return check(name, __fcntl(fd, cmd, arg));
}

/** Checked F_GETFL: the file status flags as the kernel reports them. */
export function getFl(fd: number): number {
  return fcntl(fd, F_GETFL, 0, 'fcntl(F_GETFL)');
}

/** Raw F_ADD_SEALS. */
export function __addSeals(fd: number, seals: number): libc.Raw {
  return libc.fcntl(fd, F_ADD_SEALS, seals);
}

/** Checked F_ADD_SEALS. */
export function addSeals(fd: number, seals: number): void {
  check('fcntl(F_ADD_SEALS)', __addSeals(fd, seals), `seals 0x${seals.toString(16)}`);
}

/** Raw F_GET_SEALS. */
export function __getSeals(fd: number): libc.Raw {
  return libc.fcntl(fd, F_GET_SEALS, 0);
}

/** Checked F_GET_SEALS: the seal mask. */
export function getSeals(fd: number): number {
  return check('fcntl(F_GET_SEALS)', __getSeals(fd));
}

/** The line a probe child prints once its case module is loaded (shared by probe-main and the probe runners). */
export const PROBE_LOADED = 'PROBE-LOADED';

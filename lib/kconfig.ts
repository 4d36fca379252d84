/** One reader of kernel .config text, shared by the harness (the running kernel's config) and the kernel builder. */

/**
 * The options of a .config: `CONFIG_X=v` as X → v, and `# CONFIG_X is not set` as X → 'n', so that
 * "asked to be off" and "not in this tree at all" (absent from the map) stay distinguishable.
 */
export function parseDotConfig(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set) map.set(set[1] as string, set[2] as string);
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset) map.set(unset[1] as string, 'n');
  }
  return map;
}

/** True when a parsed config has the option built in or as a module. */
export function configEnabled(config: Map<string, string>, option: string): boolean {
  const v = config.get(option);
  return v === 'y' || v === 'm';
}

// Bounds the tenant label: the first max_tenants tenants by name keep their own, the rest share tenant="other".
export const OTHER_TENANT = 'other';

export class TenantFolding {
  /** Tenants that have a label of their own. */
  private readonly kept = new Set<string>();
  /** Bumped whenever a tenant loses or gains its label, so cached label children know to look again. */
  generation = 0;

  constructor(private max: number) {}

  /**
   * The label of a tenant; O(1). A tenant first seen between scrapes gets its own label while there is
   * room, else "other" until the next rebalance sorts it into place.
   */
  label(tenant: string): string {
    if (this.kept.has(tenant)) return tenant;
    if (this.kept.size >= this.max) return OTHER_TENANT;
    this.kept.add(tenant);
    return tenant;
  }

  /**
   * At scrape time: the first `max` of the known tenants in name order keep their label. Returns the
   * tenants that lost theirs, whose series the caller removes.
   */
  rebalance(known: Iterable<string>, max: number): string[] {
    this.max = max;
    const top = new Set([...new Set(known)].sort().slice(0, max));
    const lost: string[] = [];
    for (const t of this.kept) if (!top.has(t)) lost.push(t);
    let gained = false;
    for (const t of top) gained ||= !this.kept.has(t);
    if (lost.length === 0 && !gained) return lost;
    this.kept.clear();
    for (const t of top) this.kept.add(t);
    this.generation++;
    return lost;
  }
}

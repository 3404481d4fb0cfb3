/**
 * Alert thresholds the dashboards draw, so a panel shows how close a host is
 * to paging. They mirror config/prometheus/rules/kvm_exporter.alerts.yml;
 * test/grafana/dashboards.test.ts fails if the two disagree.
 */

/** KvmZombieProcessesPilingUp: more zombies than this, and still growing. */
export const ZOMBIE_ALERT_THRESHOLD = 50;

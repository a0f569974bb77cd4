// Cloud Run prices for GPU services (instance-based billing), in USD.
// Source: https://cloud.google.com/run/pricing and the Cloud Billing catalog SKUs for
// us-central1, as of 2026-08 (read 2026-11). Check the pricing page before relying on them.

export const PRICES_AS_OF = "2026-08";
export const PRICING_SOURCE = "https://cloud.google.com/run/pricing";

export interface Prices {
    vcpuSecond: number;
    gibSecond: number;
    /** Per GPU-second, by zonal redundancy. */
    gpuSecond: Readonly<Record<string, { zonal: number; nonZonal: number }>>;
}

/** Tier 1 regions (all L4 regions but asia-southeast1). */
export const TIER1: Prices = {
    vcpuSecond: 0.000018,
    gibSecond: 0.000002,
    gpuSecond: { "nvidia-l4": { zonal: 0.0002909, nonZonal: 0.0001867 } },
};

export const TIER1_REGIONS = ["europe-west1", "europe-west4", "us-central1", "us-east4"];

/** Hours in an average month, as Google's calculator uses. */
export const HOURS_PER_MONTH = 730;

/**
 * Managed Service for Prometheus, per million samples ingested (first tier): $0.06
 * (https://cloud.google.com/stackdriver/pricing, "Prometheus Samples Ingested"; the figure as
 * public summaries of that page give it, read 2026-11). No free allotment for Prometheus samples.
 */
export const GMP_PER_MILLION_SAMPLES = 0.06;

/**
 * Cloud Monitoring alerting: $1.50 per alert condition per month (plus $0.35 per million time
 * series returned, a few cents here), from Google's worked example on
 * https://cloud.google.com/monitoring/alerts/cost-control. Dashboards and Cloud Run's own metrics are free.
 */
export const ALERT_CONDITION_MONTHLY = 1.5;

/**
 * Global external Application Load Balancer (the multi-region front door): $0.025 an hour for the
 * first 5 forwarding rules together, $0.01 an hour for each one after, and $0.008 per GiB of data
 * processed, inbound and outbound each (https://cloud.google.com/load-balancing/pricing, read
 * 2026-11: "First 5 forwarding rules $0.025 / 1 hour"). The stack's two rules (HTTPS on 443, the
 * redirect on 80) fit in the first five; a project that already has five pays $0.01 an hour each.
 */
export const LB_FIRST_FIVE_RULES_HOUR = 0.025;
export const LB_DATA_PER_GIB = 0.008;

/**
 * Cloud Armor Standard: $5 per policy and $1 per rule a month, $0.75 per million requests a
 * global policy evaluates (https://cloud.google.com/armor/pricing, as public summaries of that
 * page give it; read 2026-11). Every rule is counted, the default one included.
 */
export const ARMOR_POLICY_MONTHLY = 5;
export const ARMOR_RULE_MONTHLY = 1;
export const ARMOR_PER_MILLION_REQUESTS = 0.75;

/**
 * Where the node lives on an image, and as whom it runs. A module of its own so that the unit generators
 * (./units.ts) and the A/B layout (./abLayout.ts), which use each other, both read them without a cycle.
 */
export const SERVICE_USER = "sovereign";
export const DATA_DIR = "/var/lib/sovereign";
export const APP_DIR = "/opt/sovereign";
export const CONFIG_DIR = "/etc/sovereign";

// The platform's roles, apart from the platform itself so that parsing `--role` loads nothing else.
export const ROLES = ['speed', 'lake', 'serve', 'worker', 'scheduler', 'cdc'] as const;
export type Role = (typeof ROLES)[number];
export const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value);

// Example only. Staff roles of the admin console (identity model: admin-console).
export const roles = {
  support: ["account:view", "account:unlock"],
  operations: ["account:view", "account:reset-mfa"],
} as const;

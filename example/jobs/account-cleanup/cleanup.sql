-- Example only. The nightly account cleanup (identity model: account-cleanup).
DELETE FROM accounts
WHERE last_login < now() - interval '3 years'
  AND NOT legal_hold;

# Example only. Vault policy for the payment worker (checkout model: secrets-manager).
path "payments/psp-api-key" {
  capabilities = ["read"]
}

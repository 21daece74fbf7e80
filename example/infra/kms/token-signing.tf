# Example only. The token-signing key, kept in an HSM (identity model: kms).
resource "aws_kms_key" "token_signing" {
  customer_master_key_spec = "RSA_2048"
  key_usage                = "SIGN_VERIFY"
}

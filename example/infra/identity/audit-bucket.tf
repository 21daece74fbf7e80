# Example only. The audit log bucket with object lock (identity model: audit-log).
resource "aws_s3_bucket" "audit" {
  bucket              = "shop-identity-audit"
  object_lock_enabled = true
}

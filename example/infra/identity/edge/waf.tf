# Example only. Load balancer and WAF in front of the identity provider (identity model: edge-lb).
resource "aws_wafv2_web_acl" "identity" {
  name  = "identity-edge"
  scope = "REGIONAL"
  # Rate limit per source address only (T-IDN-01).
}

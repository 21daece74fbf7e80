# Example only. The orders database (checkout model: orders-db).
resource "aws_db_instance" "orders" {
  engine            = "postgres"
  storage_encrypted = true
  iam_database_authentication_enabled = true
}

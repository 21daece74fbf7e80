# Example only. The user directory's database (identity model: user-directory).
resource "aws_db_instance" "directory" {
  engine            = "postgres"
  storage_encrypted = true
}

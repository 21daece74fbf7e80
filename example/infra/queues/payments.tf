# Example only. The payments queue (checkout model: payments-queue).
resource "rabbitmq_queue" "payment_requested" {
  name  = "payment.requested"
  vhost = "payments"
}

resource "rabbitmq_queue" "payment_results" {
  name  = "payment.results"
  vhost = "payments"
}

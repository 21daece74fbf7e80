# Example only. The order events queue (notifications model: order-events).
resource "rabbitmq_queue" "order_events" {
  name  = "order.events"
  vhost = "shop"
}
